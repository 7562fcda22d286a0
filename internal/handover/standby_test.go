package handover_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// countingDialer counts the dials it passes on.
type countingDialer struct {
	upstream.Dialer
	n *atomic.Int32
}

func (d countingDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	d.n.Add(1)
	return d.Dialer.Dial(ctx, h)
}

var keepBlue = handover.Options{Standby: func(from router.Color) bool { return from == router.Blue }}

// TestStandbyMoveBack: a move to green keeps the blue connection as an
// idle standby (its channels left), and the move back resubscribes on it
// without dialing; the client's stream stays exactly once and in order
// through both moves.
func TestStandbyMoveBack(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 20)

	if moved, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), keepBlue); err != nil || !moved {
		t.Fatalf("move to green: %v, %v", moved, err)
	}
	if c, ok := e.s.Standby(); !ok || c != router.Blue {
		t.Fatalf("standby after the move: %v, %v; want blue", c, ok)
	}
	waitConns(t, e.blue, 1) // the standby
	waitConns(t, e.green, 1)

	// The standby is idle: its channels were left before it was parked,
	// so blue sends nothing the session would have to drop.
	e.progress(t, 5)
	stale := e.s.Counters().Stale.Load()
	e.progress(t, 30)
	if now := e.s.Counters().Stale.Load(); now != stale {
		t.Errorf("the standby delivered %d messages while parked", now-stale)
	}

	var dials atomic.Int32
	back := countingDialer{Dialer: e.blue.Dialer(), n: &dials}
	if moved, err := handover.Move(ctx, e.s, router.Blue, back, keepBlue); err != nil || !moved {
		t.Fatalf("move back: %v, %v", moved, err)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("the move back dialed blue %d times; want the standby reused", n)
	}
	if _, ok := e.s.Standby(); ok {
		t.Error("a green standby was kept; only blue ones are wanted")
	}
	waitConns(t, e.green, 0)
	waitConns(t, e.blue, 1)
	e.progress(t, 20)
	e.finish(t, p)
	if g := e.s.Counters().Gaps.Load(); g != 0 {
		t.Errorf("%d gaps", g)
	}
	if info := e.s.Info(); info.Backend != router.Blue || len(info.Subscriptions) != len(channels) {
		t.Fatalf("info %+v", info)
	}
}

// TestStandbyEnds: a standby whose connection ends (blue crashed) is
// forgotten without being reported as a drop; the next move back dials
// (and fails, blue being down), and the session stays on green intact.
func TestStandbyEnds(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	if _, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), keepBlue); err != nil {
		t.Fatal(err)
	}
	e.blue.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := e.s.Standby(); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ended standby is still held")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-e.dropped:
		t.Fatalf("the standby's end was reported as a drop: %v", err)
	default:
	}
	var dials atomic.Int32
	_, err := handover.Move(ctx, e.s, router.Blue, countingDialer{Dialer: e.blue.Dialer(), n: &dials}, keepBlue)
	var he *handover.Error
	if !errors.As(err, &he) || he.Stage != handover.StageDial {
		t.Fatalf("move back to a crashed blue: %v; want a dial failure", err)
	}
	if dials.Load() != 1 {
		t.Errorf("dials %d, want 1", dials.Load())
	}
	if c := color(e.s); c != router.Green {
		t.Fatalf("after the failed move: on %v", c)
	}
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 10)
	e.finish(t, p)
}

// TestStandbyReleasedWithSession: closing the session closes its
// standby.
func TestStandbyReleasedWithSession(t *testing.T) {
	e := setup(t)
	if _, err := handover.Move(testenv.Context(t, 30*time.Second), e.s, router.Green, e.green.Dialer(), keepBlue); err != nil {
		t.Fatal(err)
	}
	waitConns(t, e.blue, 1)
	e.s.Close()
	waitConns(t, e.blue, 0)
	waitConns(t, e.green, 0)
}

// cutDialer's connections made before cut is set fail every subscribe
// after it: a standby cut by the network without its end showing.
type cutDialer struct {
	upstream.Dialer
	cut, dials *atomic.Int32
}

func (d cutDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	d.dials.Add(1)
	c, err := d.Dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	return cutConn{Conn: c, cut: d.cut, before: d.cut.Load() == 0}, nil
}

type cutConn struct {
	upstream.Conn
	cut    *atomic.Int32
	before bool
}

func (c cutConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	if c.before && c.cut.Load() != 0 {
		return upstream.Position{}, errors.New("connection silently cut")
	}
	return c.Conn.Subscribe(ctx, channel, since, hasSince)
}

// TestStandbyCutFallsBackToDial: when the standby fails the resubscribe,
// the same move dials instead and succeeds, the stream still exactly
// once and in order.
func TestStandbyCutFallsBackToDial(t *testing.T) {
	var cut, dials atomic.Int32
	e := setup(t)
	blue := cutDialer{Dialer: e.blue.Dialer(), cut: &cut, dials: &dials}
	ctx := testenv.Context(t, 30*time.Second)
	// Start over on a blue connection made through cutDialer.
	if _, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := handover.Move(ctx, e.s, router.Blue, blue, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 10)
	if _, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), keepBlue); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.s.Standby(); !ok {
		t.Fatal("no standby")
	}
	cut.Store(1)
	dials.Store(0)
	if moved, err := handover.Move(ctx, e.s, router.Blue, blue, keepBlue); err != nil || !moved {
		t.Fatalf("move back over a cut standby: %v, %v", moved, err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1 (the fallback)", n)
	}
	e.progress(t, 10)
	e.finish(t, p)
}
