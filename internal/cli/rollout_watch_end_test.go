package cli

import (
	"encoding/json"
	"testing"

	"github.com/baton-rt/baton/internal/admin"
)

// TestWatchEndsOnTheEndsTransitionNotTheMetricsTickAhead: the status
// leads the events, so a metrics tick may show the rollout completed
// before the stream brings its rollout_completed transition. Watch must
// not end on that tick, leaving the transition unprinted (a flaky
// TestWatchJSON showed it); it ends on the transition, or on a second
// tick showing the end (the transition lost to a drop), or at once once
// the stream has said it dropped some.
func TestWatchEndsOnTheEndsTransitionNotTheMetricsTickAhead(t *testing.T) {
	event := func(name string, v any) admin.StreamEvent {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return admin.StreamEvent{Name: name, Data: b}
	}
	tick := func(state string) admin.StreamEvent {
		return event(admin.EventMetrics, admin.Metrics{Rollout: &admin.RolloutStatus{ID: "r7", State: state}})
	}
	apply := func(m *watchModel, ev admin.StreamEvent) bool {
		t.Helper()
		ended, err := m.apply(ev)
		if err != nil {
			t.Fatal(err)
		}
		return ended
	}

	m := &watchModel{}
	apply(m, tick("shifting"))
	if apply(m, tick("completed")) {
		t.Fatal("watch ended on the metrics tick that showed the end, ahead of its transition")
	}
	if !apply(m, event(admin.EventTransition, admin.TransitionEvent{Kind: "rollout_completed", To: "completed", Step: 2})) {
		t.Fatal("watch did not end on the rollout_completed transition")
	}
	if len(m.recent) == 0 {
		t.Error("the rollout_completed transition is not among the lines shown")
	}

	lost := &watchModel{}
	if apply(lost, tick("completed")) || !apply(lost, tick("completed")) {
		t.Error("with the end's transition lost, watch must end on the second tick showing the end")
	}

	dropped := &watchModel{}
	apply(dropped, event(admin.EventDropped, admin.DroppedEvent{Dropped: 3}))
	if !apply(dropped, tick("completed")) {
		t.Error("after a drop, watch must end on the first tick showing the end")
	}
}
