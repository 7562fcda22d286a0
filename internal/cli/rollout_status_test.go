package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
)

// TestStatusTextStepLeftByACommand: a step that an emergency rollback (or
// a rollback, an abort, a promote) ended before its gate has an end and no
// outcome (docs/api.md: "absent while running or when left by a
// command"); `baton rollout status` must not call it running once the
// rollout has rolled back.
func TestStatusTextStepLeftByACommand(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := admin.RolloutStatus{
		ID: "r1", State: "rolled_back", Step: 1, Steps: 5, Emergency: true,
		Reason:    "emergency rollback requested by operator",
		StartedAt: start, EndedAt: start.Add(5 * time.Second),
		History: []admin.StepTiming{
			{Step: 1, Weight: 10, StartedAt: start, AppliedAt: start.Add(time.Millisecond), EndedAt: start.Add(5 * time.Second)},
		},
	}
	out := statusText(st)
	if strings.Contains(out, "running") {
		t.Errorf("a step the rollback ended shows as running:\n%s", out)
	}
	st.State, st.EndedAt, st.History[0].EndedAt = "shifting", time.Time{}, time.Time{}
	if out := statusText(st); !strings.Contains(out, "running") {
		t.Errorf("the step under way does not show as running:\n%s", out)
	}
}
