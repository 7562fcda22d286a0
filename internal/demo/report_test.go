package demo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/rollout"
)

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

// A connection that ended counts once in every figure that shows it, and
// the report says why it ended.
func TestTallyCountsAnEndedConnection(t *testing.T) {
	f := newFleet(4, 2, channelNames(4), func(string) string { return "blue" })
	f.clients[2].ended(errors.New("read: connection reset by peer"))
	f.clients[2].ended(errors.New("a second end is not a second disconnect"))
	f.clients[3].closing.Store(true)
	f.clients[3].ended(nil) // closed by the demo: not a disconnect

	tl := f.tally(map[string]uint64{}, time.Now())
	if tl.SessionsKept != 3 || tl.Disconnects != 1 {
		t.Fatalf("kept %d, disconnects %d; want 3 and 1", tl.SessionsKept, tl.Disconnects)
	}
	r := makeReport(&Config{}, rollout.State{}, gateway.Status{}, tl, nil, &publisher{})
	if len(r.Disconnects) != 1 || !strings.Contains(r.Disconnects[0], "user-00002") || !strings.Contains(r.Disconnects[0], "connection reset") {
		t.Fatalf("disconnect reasons %q", r.Disconnects)
	}
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "connection reset by peer") {
		t.Errorf("the table does not say why the connection ended:\n%s", table.String())
	}
}
