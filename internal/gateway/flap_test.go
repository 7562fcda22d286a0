package gateway_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestFlappingBackendIsLeft: green accepts every connection and drops it
// a moment later, again and again, as a backend that crashes its
// connections soon after the handshake does. Re-attaching to it as fast
// as it drops them would dial it and resubscribe every session on it
// without end. After a few drops in a row, each soon after its attach,
// a session goes to blue, and stays there with every message once and in
// order, until a weight change places it again.
func TestFlappingBackendIsLeft(t *testing.T) {
	e := setup(t, router.Full)
	channels := []string{"a", "b"}
	clients := e.attach(t, 4, channels)
	p := sessiontest.Publish(e.b, 5*time.Millisecond, channels...)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		e.green.DropConns()
	}
	for _, c := range clients {
		testenv.Eventually(t, "session "+c.s.ID()+" on blue", 10*time.Second, func() bool {
			col, live := c.s.Attached()
			return col == router.Blue && live
		})
	}
	// Each session: a few drops on green, then none (blue is steady).
	// Re-attached to green at every drop, each would have had about 30.
	st := e.g.Status()
	t.Logf("moves %+v", st.Moves)
	if st.Moves.Drops > uint64(6*len(clients)) {
		t.Errorf("moves %+v: %d drops for %d sessions over 30 drops of green's connections, want at most 6 each", st.Moves, st.Moves.Drops, len(clients))
	}
	// Green steady again, the current weight applied once more puts the
	// sessions back where the router places them.
	ctx := testenv.Context(t, 30*time.Second)
	if moved, failed, err := e.g.SetWeight(ctx, router.Full); err != nil || moved != len(clients) || failed != 0 {
		t.Errorf("weight 100 again: moved %d failed %d (%v), want all %d back on green", moved, failed, err, len(clients))
	}
	stopAndCheck(t, p, clients)
	e.checkPlacement(t, clients)
}

// TestFlapWaitEndsWithTheSession: a re-attach waiting out its backoff
// after quick drops ends with its session: a client that left has nothing
// waiting for it.
func TestFlapWaitEndsWithTheSession(t *testing.T) {
	e := setupOptions(t, router.Full, nil, nil, func(o *gateway.Options) { o.ReattachBackoff = 20 * time.Second })
	clients := e.attach(t, 1, []string{"a"})
	c := clients[0]
	// Two drops soon after their attach: the second re-attach waits.
	e.green.DropConns()
	testenv.Eventually(t, "re-attached", 10*time.Second, func() bool {
		col, live := c.s.Attached()
		return e.g.Status().Moves.Reattached == 1 && col == router.Green && live
	})
	e.green.DropConns()
	testenv.Eventually(t, "the drop seen", 10*time.Second, func() bool {
		_, live := c.s.Attached()
		return !live
	})
	e.g.Detach(c.s)
	testenv.Eventually(t, "the re-attach to end with its session", 2*time.Second, func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "gateway.(*Gateway).reattach")
	})
}

// TestQuickDropsBeforeAStableAttachAreForgotten: two quick drops in a row
// on green, then the session stays on green longer than a quick drop's
// bound and a weight change moves it to blue, which drops it once just
// after. That attachment to green lasted: the row of quick drops ended
// with it, so blue's drop is the first of a new row, and the session
// re-attaches to blue (where the router places it) at once, not to green
// after a wait as a flapping blue's third quick drop would.
func TestQuickDropsBeforeAStableAttachAreForgotten(t *testing.T) {
	e := setup(t, router.Full)
	clients := e.attach(t, 1, []string{"a"})
	c := clients[0]
	reattached := func(n uint64, col router.Color) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("re-attach %d", n), 10*time.Second, func() bool {
			_, live := c.s.Attached()
			return e.g.Status().Moves.Reattached == n && live
		})
		if got, _ := c.s.Attached(); got != col {
			t.Fatalf("re-attach %d: on %v, want %v (moves %+v)", n, got, col, e.g.Status().Moves)
		}
	}
	// Two quick drops in a row on green (each soon after its attach).
	e.green.DropConns()
	reattached(1, router.Green)
	e.green.DropConns()
	reattached(2, router.Green)
	// A stable attachment: it outlasts the quick drops' bound.
	time.Sleep(6 * time.Second)
	ctx := testenv.Context(t, 30*time.Second)
	if moved, failed, err := e.g.SetWeight(ctx, 0); err != nil || moved != 1 || failed != 0 {
		t.Fatalf("weight 0: moved %d failed %d (%v), want the session on blue", moved, failed, err)
	}
	e.blue.DropConns()
	reattached(3, router.Blue)
}
