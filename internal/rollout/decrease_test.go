package rollout

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/router"
)

// A start whose first step is below the weight the gateway stands at is
// refused: after a completed rollout, a second start would move most of
// green back to blue at once, with no gate, toward the backend just left.
// Nothing moves, the completed rollout stays; allow_decrease starts it.
func TestStartBelowTheCurrentWeightIsRefused(t *testing.T) {
	h := newHarness(t)
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	done := h.waitPhase(h.c, Completed)
	calls := h.shifter.Calls()

	st, err := h.c.Start(ctx, nil)
	if err == nil {
		h.waitFor(h.c, "the second rollout's first step", func(s State) bool { return s.Step == 1 && s.Applied })
		t.Fatalf("start at weight 100 %% with a first step of 10 %%: no error; weights applied %v", h.shifter.Calls())
	}
	var de *DecreaseError
	if !errors.As(err, &de) || de.Current != router.Full || de.First != 1000 || de.ToBlue != 900 || de.Phase != Completed {
		t.Fatalf("refused start: %v (%+v), want a DecreaseError from 100 %% to 10 %% moving 900 sessions", err, de)
	}
	for _, want := range []string{"100 %", "10 %", "900 sessions", "baton weight set 0", "allow_decrease", "rollback"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
	if st.ID != done.ID || st.Phase != Completed || h.c.Status().ID != done.ID {
		t.Errorf("after the refused start: %s %s, want the completed rollout %s", st.Phase, st.ID, done.ID)
	}
	if got := h.shifter.Calls(); !slices.Equal(got, calls) {
		t.Errorf("weights applied %v after the refused start, want %v", got, calls)
	}

	// Said explicitly, it starts, and its first step moves them.
	if _, err := h.c.Start(ctx, &Override{AllowDecrease: true}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(h.c, "the first step", func(s State) bool { return s.ID != done.ID && s.Step == 1 && s.Applied })
	if got := h.shifter.Calls(); got[len(calls)] != 1000 {
		t.Errorf("weights applied %v, want 10 %% after %v", got, calls)
	}
}

// The weight a start is checked against is the gateway's as well as the
// stored one: a fresh store (idle, weight 0) in front of a gateway that
// the config started at 50 % is refused too, and a start at or above the
// current weight is not: after a rollback to 0, after a weight set by
// hand below the first step, or with steps from the current weight up.
func TestStartAtOrAboveTheCurrentWeight(t *testing.T) {
	h := newHarness(t)
	if _, _, err := h.shifter.SetWeight(ctx, 5000); err != nil { // routing.weight: 50
		t.Fatal(err)
	}
	_, err := h.c.Start(ctx, nil)
	var de *DecreaseError
	if !errors.As(err, &de) || de.Current != 5000 || de.Phase != Idle {
		t.Fatalf("start at a startup weight of 50 %%: %v, want a DecreaseError", err)
	}
	if _, err := h.c.Start(ctx, &Override{Steps: []float64{50, 100}}); err != nil {
		t.Fatalf("start with steps from the current weight: %v", err)
	}
	h.waitPhase(h.c, Completed)
	if _, err := h.c.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, RolledBack)
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatalf("start after a rollback: %v", err)
	}
	h.waitPhase(h.c, Completed)
	if err := h.c.SetWeightByHand(ctx, 500, func(context.Context) error { _, _, err := h.shifter.SetWeight(ctx, 500); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatalf("start after a weight of 5 %% set by hand: %v", err)
	}
	h.waitPhase(h.c, Completed)
}
