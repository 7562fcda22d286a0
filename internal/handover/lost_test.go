package handover_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// lostOnIncomingDialer dials connections on which the backend, once
// channel is acked, drops that subscription and says so (as the legacy
// service does with subscription_lost when a replay falls behind after
// its ack), while the other channels' acks are still on their way.
type lostOnIncomingDialer struct {
	upstream.Dialer
	channel string
}

func (d lostOnIncomingDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := d.Dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	return lostConn{Conn: c, h: h, channel: d.channel}, nil
}

type lostConn struct {
	upstream.Conn
	h       upstream.Handler
	channel string
}

func (c lostConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	pos, err := c.Conn.Subscribe(ctx, channel, since, hasSince)
	if err != nil {
		return pos, err
	}
	if channel != c.channel {
		time.Sleep(50 * time.Millisecond) // the other acks come later
		return pos, nil
	}
	_ = c.Conn.Unsubscribe(ctx, channel)
	c.h.HandleEvent(upstream.Event{Kind: upstream.KindLost, Channel: channel})
	return pos, nil
}

// A channel lost by the connection being brought in, between its ack and
// the commit, fails the move: that connection could not carry the channel
// alone, so the session stays on blue, which keeps delivering it; a later
// move goes through, and every seq arrives once.
func TestLostOnTheIncomingConnectionFailsTheMove(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 5)

	moved, err := handover.Move(ctx, e.s, router.Green, lostOnIncomingDialer{Dialer: e.green.Dialer(), channel: "a"}, handover.Options{})
	if !errors.Is(err, session.ErrLostWhileBroughtIn) || moved {
		t.Fatalf("move: %v, %v; want it refused with ErrLostWhileBroughtIn", moved, err)
	}
	if c := color(e.s); c != router.Blue {
		t.Fatalf("on %v after a failed move, want blue", c)
	}
	e.progress(t, 20)
	if moved, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), handover.Options{}); err != nil || !moved {
		t.Fatalf("second move: %v, %v", moved, err)
	}
	e.progress(t, 20)
	e.finish(t, p)
}

// captureDialer remembers the Handler and Conn of its last dial.
type captureDialer struct {
	upstream.Dialer
	mu   *sync.Mutex
	h    *upstream.Handler
	conn *upstream.Conn
}

func (d captureDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := d.Dialer.Dial(ctx, h)
	if err == nil {
		d.mu.Lock()
		*d.h, *d.conn = h, c
		d.mu.Unlock()
	}
	return c, err
}

// A channel that blue drops while a move holds the session's operation
// lock for longer than a recovery's own bound (10 s) is still recovered
// once the move has failed: the recovery waits for the lock as long as
// the session lives, and only its resubscribe is bounded.
func TestRecoveryWaitsOutALongMove(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a move for 10.5 s")
	}
	b, err := membroker.New(membroker.Options{HistorySize: 10000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	e := &env{b: b, blue: backendtest.Legacy(t, b), green: backendtest.SocketIO(t, b), sink: sessiontest.NewSink(), dropped: make(chan error, 4)}
	e.s, err = session.New(session.Options{User: "u1", Protocol: config.ProtocolLegacy, Sink: e.sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.s.Close)
	ctx := testenv.Context(t, 60*time.Second)
	var mu sync.Mutex
	var h upstream.Handler
	var conn upstream.Conn
	if err := handover.Attach(ctx, e.s, router.Blue, captureDialer{Dialer: e.blue.Dialer(), mu: &mu, h: &h, conn: &conn}, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range channels {
		if _, err := e.s.Subscribe(ctx, ch, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 5)

	moveErr := make(chan error, 1)
	go func() {
		_, err := handover.Move(ctx, e.s, router.Green, slowDialer{Dialer: e.green.Dialer()}, handover.Options{Timeout: 10500 * time.Millisecond})
		moveErr <- err
	}()
	time.Sleep(200 * time.Millisecond) // the move holds the operation lock
	mu.Lock()
	_ = conn.Unsubscribe(ctx, "a")                                       // blue ends the subscription...
	h.HandleEvent(upstream.Event{Kind: upstream.KindLost, Channel: "a"}) // ...and says so
	mu.Unlock()
	if err := <-moveErr; err == nil {
		t.Fatal("the move did not fail")
	}
	if c := color(e.s); c != router.Blue {
		t.Fatalf("on %v after a failed move, want blue", c)
	}
	e.progress(t, 20) // channel "a" too
	if n := e.s.Counters().Recovered.Load(); n != 1 {
		t.Errorf("recovered %d channels, want 1", n)
	}
	e.finish(t, p)
}
