package gateway_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestChurnReturnsToBaseline: clients of both protocols come, subscribe to
// channels of their own, publish, are moved to green and back (with
// standbys kept, as during a rollout) and leave, cycle after cycle. Once
// they have left, the gateway holds nothing for them: no session, no
// standby, no backend connection, no goroutine more than before.
func TestChurnReturnsToBaseline(t *testing.T) {
	e := setup(t, router.Weight(0))
	f := startFront(t, e, edge.Options{})
	ctx := testenv.Context(t, 60*time.Second)

	settle := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not back to baseline", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cycle := func(i int) {
		e.g.KeepStandby(true)
		a := f.dialLegacy(t, ctx, fmt.Sprintf("l%d", i))
		b := f.dialSIO(t, ctx, fmt.Sprintf("s%d", i))
		for _, c := range []*edgeClient{a, b} {
			ch := fmt.Sprintf("churn-%s", c.user)
			if err := c.subscribe(ctx, ch); err != nil {
				t.Fatal(err)
			}
			if _, err := c.publish(ctx, ch, []byte(`1`)); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range []router.Weight{router.Full, 0} {
			if _, failed, err := e.g.SetWeight(ctx, w); err != nil || failed > 0 {
				t.Fatalf("SetWeight(%v): %d failed, %v", w, failed, err)
			}
		}
		e.g.KeepStandby(false)
		a.close()
		b.close()
		<-a.done()
		<-b.done()
		settle("sessions", func() bool { return len(e.g.Sessions()) == 0 })
		settle("blue connections", func() bool { return e.blue.Conns() == 0 })
		settle("green connections", func() bool { return e.green.Conns() == 0 })
	}

	cycle(-1) // warms the pools and workers that stay
	base := runtime.NumGoroutine()
	const cycles = 20
	for i := range cycles {
		cycle(i)
	}
	settle(fmt.Sprintf("goroutines (baseline %d)", base), func() bool { return runtime.NumGoroutine() <= base+2 })
	st := e.g.Status()
	if st.Sessions.Standby != 0 {
		t.Errorf("status: %+v", st.Sessions)
	}
	// A legacy connection leaves the edge's count once its session is
	// detached and its backend connection closed, after its goroutines.
	settle("edge connections", func() bool {
		es := f.edge.Stats()
		return es.Legacy == 0 && es.SocketIO == 0
	})
}
