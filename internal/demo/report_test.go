package demo

import "testing"

// A run in which nothing was published checks no message: it does not
// pass, whatever else held.
func TestReportWithoutMessagesIsNotOK(t *testing.T) {
	base := Report{
		Outcome:       OutcomeCompleted,
		Sessions:      Preserved{Kept: 10, Total: 10},
		Subscriptions: Preserved{Kept: 30, Total: 30},
	}
	idle := base
	idle.check()
	if idle.OK {
		t.Errorf("a run without messages passed: %+v", idle.Checks)
	}
	busy := base
	busy.Messages = MessageStats{Published: 100, Delivered: 300}
	busy.check()
	if !busy.OK {
		t.Errorf("a clean run with messages failed: %+v", busy.Checks)
	}
}
