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
	st.State = "paused"
	if out := statusText(st); strings.Contains(out, "running") || !strings.Contains(out, "10% paused") {
		t.Errorf("the step of a paused rollout shows as running, or not as paused:\n%s", out)
	}
}

// TestStatusTextStepColumnsAlign: the step rows of `baton rollout status`
// keep their columns (weight, outcome, counts) in line whatever the
// weight's width (5, 10, 12.5, 100) or the step's number (1 or 10).
func TestStatusTextStepColumnsAlign(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := admin.RolloutStatus{ID: "r1", State: "completed", Step: 10, Steps: 10, StartedAt: start, EndedAt: start.Add(time.Minute)}
	for i, w := range []float64{5, 10, 12.5, 25, 30, 40, 50, 60, 75, 100} {
		st.History = append(st.History, admin.StepTiming{Step: i + 1, Weight: w, Outcome: "pass",
			StartedAt: start, AppliedAt: start, EndedAt: start.Add(time.Second), Moved: 200 * (i + 1)})
	}
	out := statusText(st)
	var pctCol, passCol, movedCol []int
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "step ") {
			continue
		}
		pctCol = append(pctCol, strings.Index(line, "% "))
		passCol = append(passCol, strings.Index(line, "pass"))
		movedCol = append(movedCol, strings.Index(line, "moved"))
	}
	if len(movedCol) != 10 {
		t.Fatalf("%d step rows, want 10:\n%s", len(movedCol), out)
	}
	for _, col := range [][]int{pctCol, passCol, movedCol} {
		for _, c := range col {
			if c != col[0] {
				t.Fatalf("step rows out of line (columns %v):\n%s", col, out)
			}
		}
	}
}
