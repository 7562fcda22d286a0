package gateway_test

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// flapToWait puts the one session of e (on green) through three quick
// drops of green: the third re-attach waits out its backoff (2 to 4 s
// with ReattachBackoff 2 s) and will then try blue first. It returns
// with that re-attach waiting.
func flapToWait(t *testing.T, e *env, c client) {
	t.Helper()
	for n := uint64(1); n <= 2; n++ {
		e.green.DropConns()
		testenv.Eventually(t, "re-attached", 10*time.Second, func() bool {
			_, live := c.s.Attached()
			return e.g.Status().Moves.Reattached == n && live
		})
	}
	e.green.DropConns()
	testenv.Eventually(t, "the third drop seen", 10*time.Second, func() bool {
		_, live := c.s.Attached()
		return !live
	})
}

// TestWeightChangeDuringFlapWait: a weight change applied while a
// session waits out its re-attach backoff after quick drops places it
// where the new table says, as a weight change after the re-attach
// would (docs/architecture.md, "Delivery guarantees": a PUT with the
// current weight places it again). Its move counts once, and the drop
// still counts one re-attach.
func TestWeightChangeDuringFlapWait(t *testing.T) {
	slowBackoff := func(o *gateway.Options) { o.ReattachBackoff = 2 * time.Second }
	settled := func(t *testing.T, e *env) gateway.MoveCounts {
		t.Helper()
		testenv.Eventually(t, "the waiting re-attach to end", 15*time.Second, func() bool {
			m := e.g.Status().Moves
			return m.Reattached+m.ReattachFailed == m.Drops
		})
		return e.g.Status().Moves
	}

	// The weight is applied again, unchanged: the session was on green when
	// it dropped, so the change has nothing to move, and the re-attach
	// that follows must go where the table says, not to blue.
	t.Run("same weight", func(t *testing.T) {
		e := setupOptions(t, router.Full, nil, nil, slowBackoff)
		clients := e.attach(t, 1, []string{"a"})
		flapToWait(t, e, clients[0])
		ctx := testenv.Context(t, 30*time.Second)
		if moved, failed, err := e.g.SetWeight(ctx, router.Full); err != nil || failed != 0 || moved != 0 {
			t.Fatalf("weight 100 again: moved %d failed %d (%v), want nothing to move", moved, failed, err)
		}
		m := settled(t, e)
		if m.Drops != 3 || m.ReattachFailed != 0 {
			t.Errorf("moves %+v: want 3 drops, each re-attached", m)
		}
		e.checkPlacement(t, clients)
	})

	// The weight sends the user to blue: the change moves the detached
	// session there; the re-attach then finds it attached.
	t.Run("new weight", func(t *testing.T) {
		e := setupOptions(t, router.Full, nil, nil, slowBackoff)
		clients := e.attach(t, 1, []string{"a"})
		flapToWait(t, e, clients[0])
		ctx := testenv.Context(t, 30*time.Second)
		if moved, failed, err := e.g.SetWeight(ctx, 0); err != nil || failed != 0 || moved != 1 {
			t.Fatalf("weight 0: moved %d failed %d (%v), want the session moved", moved, failed, err)
		}
		m := settled(t, e)
		if m.Done != 1 || m.Failed != 0 || m.Drops != 3 || m.ReattachFailed != 0 {
			t.Errorf("moves %+v: want 1 move done, 3 drops each re-attached", m)
		}
		e.checkPlacement(t, clients)
	})
}
