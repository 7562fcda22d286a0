package rollout

import (
	"context"
	"slices"
	"testing"

	"github.com/baton-rt/baton/internal/router"
)

// blockingProber holds each green check until release is closed, and
// says on probing (without waiting) that one began.
type blockingProber struct{ probing, release chan struct{} }

func (p blockingProber) Probe(ctx context.Context, _ router.Color) error {
	select {
	case p.probing <- struct{}{}:
	default:
	}
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestPreparingKeepsTheWeightTheGatewayStandsAt: a rollout started from
// 30 % (a weight set by hand, or steps from an aborted rollout's weight
// up) moves nobody while green is checked, so its state says 30 %, not
// 0 %: the start's answer (baton rollout start printed "weight 0%"), the
// weight a follower applies from the store (which moved its 30 % to blue
// and back), and the weight a gateway restarted meanwhile comes back to.
func TestPreparingKeepsTheWeightTheGatewayStandsAt(t *testing.T) {
	p := blockingProber{probing: make(chan struct{}, 1), release: make(chan struct{})}
	h := newHarness(t, func(o *Options) { o.Prober = p })
	if _, _, err := h.shifter.SetWeight(ctx, 3000); err != nil {
		t.Fatal(err)
	}
	st, err := h.c.Start(ctx, &Override{Steps: []float64{50, 100}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != Preparing || st.Weight != 3000 {
		t.Errorf("start's answer: %s at weight %v, want preparing at 30%%", st.Phase, st.Weight)
	}
	<-p.probing

	// The process restarts: its gateway comes up at the config's
	// routing.weight, 0, and the controller brings it back to 30 %.
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	h.shifter.mu.Lock()
	h.shifter.weight = 0
	h.shifter.mu.Unlock()
	calls := len(h.shifter.Calls())
	h.c = h.open()
	<-p.probing // the restarted controller checks green again
	if got := h.shifter.Calls()[calls:]; !slices.Equal(got, []router.Weight{3000}) {
		t.Errorf("weights applied by the controller restarted while preparing: %v, want [30%%]", got)
	}
	close(p.release)
	h.waitApplied(h.c, 1)
}
