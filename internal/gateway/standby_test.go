package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// TestKeepStandby: with standbys on, the sessions moved to green keep an
// idle blue connection each; moving back reuses them under publishing
// load with every message once and in order; turning standbys off closes
// the ones left.
func TestKeepStandby(t *testing.T) {
	var blueDials atomic.Int64
	e := setupWith(t, 0, func(d upstream.Dialer) upstream.Dialer { return countDials{d, &blueDials} })
	ctx := testenv.Context(t, 60*time.Second)
	channels := []string{"a", "b", "c"}
	clients := e.attach(t, 60, channels)
	p := sessiontest.Publish(e.b, 5*time.Millisecond, channels...)
	e.g.KeepStandby(true)

	if _, failed, err := e.g.SetWeight(ctx, router.Full); err != nil || failed != 0 {
		t.Fatalf("weight 100: failed %d, %v", failed, err)
	}
	// Retirement (leave the channels, park) runs in the background.
	testenv.Eventually(t, "every session to hold a blue standby", 15*time.Second, func() bool { return e.g.Status().Sessions.Standby == len(clients) })
	testenv.Eventually(t, "blue to hold the standbys only", 15*time.Second, func() bool { return e.blue.Conns() == len(clients) })

	blueDials.Store(0)
	if _, failed, err := e.g.SetWeight(ctx, 0); err != nil || failed != 0 {
		t.Fatalf("weight 0: failed %d, %v", failed, err)
	}
	if n := blueDials.Load(); n != 0 {
		t.Errorf("the move back dialed blue %d times; want the standbys reused", n)
	}
	e.checkPlacement(t, clients)
	if st := e.g.Status(); st.Sessions.Standby != 0 {
		t.Errorf("%d standbys after moving back; green connections are never kept", st.Sessions.Standby)
	}
	// Back on blue on the standbys themselves: no second blue connection.
	testenv.Eventually(t, "green to be left", 15*time.Second, func() bool { return e.green.Conns() == 0 })
	if n := e.blue.Conns(); n != len(clients) {
		t.Errorf("blue holds %d connections for %d sessions", n, len(clients))
	}

	// Forward again, then standbys off: the parked connections close.
	if _, failed, err := e.g.SetWeight(ctx, router.Full); err != nil || failed != 0 {
		t.Fatalf("weight 100 again: failed %d, %v", failed, err)
	}
	testenv.Eventually(t, "the standbys again", 15*time.Second, func() bool { return e.g.Status().Sessions.Standby == len(clients) })
	e.g.KeepStandby(false)
	testenv.Eventually(t, "the standbys to close", 15*time.Second, func() bool { return e.blue.Conns() == 0 && e.g.Status().Sessions.Standby == 0 })
	e.checkPlacement(t, clients)

	stopAndCheck(t, p, clients)
	if st := e.g.Status(); st.Messages.Gaps != 0 || st.Moves.Failed != 0 {
		t.Errorf("status %+v", st)
	}
}

// slowLeave delays blue's unsubscribes, so that retirements (which leave
// the channels before parking) are still running when a test acts.
type slowLeave struct{ upstream.Dialer }

func (d slowLeave) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := d.Dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	return slowLeaveConn{c}, nil
}

type slowLeaveConn struct{ upstream.Conn }

func (c slowLeaveConn) Unsubscribe(ctx context.Context, channel string) error {
	time.Sleep(100 * time.Millisecond)
	return c.Conn.Unsubscribe(ctx, channel)
}

// TestStandbyOffWhileRetiring: standbys turned off right after a weight
// change (as the controller does when the last step completes), while
// the moves' retirements are still leaving channels: none of them parks
// a standby that nobody would release.
func TestStandbyOffWhileRetiring(t *testing.T) {
	e := setupWith(t, 0, func(d upstream.Dialer) upstream.Dialer { return slowLeave{d} })
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 20, []string{"a", "b"})
	e.g.KeepStandby(true)
	if _, failed, err := e.g.SetWeight(ctx, router.Full); err != nil || failed != 0 {
		t.Fatalf("weight 100: failed %d, %v", failed, err)
	}
	e.g.KeepStandby(false)
	testenv.Eventually(t, "every blue connection to close", 15*time.Second, func() bool {
		return e.blue.Conns() == 0 && e.g.Status().Sessions.Standby == 0
	})
	e.checkPlacement(t, clients)
}

// TestUnpacedRetiresAfterMoves: an unpaced change (emergency) holds the
// closes of the connections left until its moves are done, then closes
// every one of them. Blue's dials end one after another, 5 ms apart, so
// that the first moves are done well before the last: a green connection
// closed by then is a retirement that did not wait.
func TestUnpacedRetiresAfterMoves(t *testing.T) {
	var greenClosed, closedEarly atomic.Int64
	stagger := func(d upstream.Dialer) upstream.Dialer {
		return &staggeredDials{Dialer: d, step: 5 * time.Millisecond, closed: &greenClosed, early: &closedEarly}
	}
	watchClose := func(d upstream.Dialer) upstream.Dialer { return countCloses{d, &greenClosed} }
	e := setupWrapped(t, router.Full, stagger, watchClose) // every session on green
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 40, []string{"a", "b"})
	if _, failed, err := e.g.SetWeightPaced(ctx, 0, gateway.Unpaced); err != nil || failed != 0 {
		t.Fatalf("unpaced weight 0: failed %d, %v", failed, err)
	}
	if n := closedEarly.Load(); n != 0 {
		t.Errorf("green connections were closed while moves were still dialing, seen by %d dials", n)
	}
	e.checkPlacement(t, clients)
	testenv.Eventually(t, "green's connections to close", 15*time.Second, func() bool { return e.green.Conns() == 0 })
	if n := e.blue.Conns(); n != len(clients) {
		t.Errorf("blue holds %d connections for %d sessions", n, len(clients))
	}
}

// countDials counts the connections dialed through it.
type countDials struct {
	upstream.Dialer
	n *atomic.Int64
}

func (d countDials) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	d.n.Add(1)
	return d.Dialer.Dial(ctx, h)
}

// countCloses counts the Close calls on the connections dialed through it.
type countCloses struct {
	upstream.Dialer
	n *atomic.Int64
}

func (d countCloses) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := d.Dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	return closeCounted{c, d.n}, nil
}

type closeCounted struct {
	upstream.Conn
	n *atomic.Int64
}

func (c closeCounted) Close() error {
	c.n.Add(1)
	return c.Conn.Close()
}

// staggeredDials ends its k-th dial k steps after it began, and counts the
// dials that end after a connection counted in closed was closed.
type staggeredDials struct {
	upstream.Dialer
	step          time.Duration
	closed, early *atomic.Int64
	k             atomic.Int64
}

func (d *staggeredDials) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	wait := time.Duration(d.k.Add(1)) * d.step
	c, err := d.Dialer.Dial(ctx, h)
	select {
	case <-time.After(wait):
	case <-ctx.Done():
	}
	if d.closed.Load() > 0 {
		d.early.Add(1)
	}
	return c, err
}
