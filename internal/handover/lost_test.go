package handover_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
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

// lostConn is a connection on which the backend, once channel is acked,
// drops that subscription and says so (as the legacy service does with
// subscription_lost when a replay falls behind after its ack), while the
// other channels' acks are still on their way.
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

	moved, err := handover.Move(ctx, e.s, router.Green, wrapDialer{e.green.Dialer(), func(c upstream.Conn, h upstream.Handler) upstream.Conn { return lostConn{Conn: c, h: h, channel: "a"} }}, handover.Options{})
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
	capture := wrapDialer{e.blue.Dialer(), func(c upstream.Conn, ch upstream.Handler) upstream.Conn {
		mu.Lock()
		h, conn = ch, c
		mu.Unlock()
		return c
	}}
	if err := handover.Attach(ctx, e.s, router.Blue, capture, handover.Options{}); err != nil {
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
		_, err := handover.Move(ctx, e.s, router.Green, slowDialer(e.green.Dialer()), handover.Options{Timeout: 10500 * time.Millisecond})
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

// lateAckConn answers the first subscribe of its dialer only after the
// caller gave up: the backend did subscribe, and the late ack is dropped
// as the answer to an abandoned request, as the drivers do.
type lateAckConn struct {
	upstream.Conn
	first *atomic.Bool
}

func (c lateAckConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	if !c.first.CompareAndSwap(false, true) {
		return c.Conn.Subscribe(ctx, channel, since, hasSince)
	}
	_, _ = c.Conn.Subscribe(context.WithoutCancel(ctx), channel, since, hasSince)
	<-ctx.Done()
	return upstream.Position{}, ctx.Err()
}

// A client subscribe that times out after the backend took it leaves no
// subscription behind on the backend: the client's retry is accepted, and
// the channel then delivers through the session.
func TestSubscribeTimedOutLeavesNoOrphan(t *testing.T) {
	b, err := membroker.New(membroker.Options{HistorySize: 10000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	blue := backendtest.Legacy(t, b)
	sink := sessiontest.NewSink()
	s, err := session.New(session.Options{User: "u1", Protocol: config.ProtocolLegacy, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := testenv.Context(t, 30*time.Second)
	var first atomic.Bool
	if err := handover.Attach(ctx, s, router.Blue, wrapDialer{blue.Dialer(), func(c upstream.Conn, _ upstream.Handler) upstream.Conn { return lateAckConn{Conn: c, first: &first} }}, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = s.Subscribe(short, "a", 0, false)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first subscribe: %v, want a deadline error", err)
	}
	if _, err := s.Subscribe(ctx, "a", 0, false); err != nil {
		t.Fatalf("retry of a timed-out subscribe: %v", err)
	}
	p := sessiontest.Publish(b, time.Millisecond, "a")
	sink.WaitSeq(t, "a", 20, 10*time.Second)
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	sink.WaitSeq(t, "a", last["a"], 10*time.Second)
	sink.CheckExactly(t, "a", 1, last["a"])
}

// A re-attach whose new backend refuses one channel's history as gone
// (its stream restarted in the shared broker) loses that channel, telling
// the client, and restores the others: the history is gone on every
// backend of the broker, so failing the whole re-attach would only close
// the client as if no backend could take it.
//
// A since the backend finds ahead of the channel's stream (bad_since) says
// the same: the gateway's since is a seq the channel's stream delivered, so
// the stream restarted under a backend that did not see it happen.
func TestReattachLosesAChannelWhoseHistoryIsGone(t *testing.T) {
	for _, code := range []string{"history_gone", "bad_since"} {
		t.Run(code, func(t *testing.T) { testReattachLosesAChannel(t, code) })
	}
}

func testReattachLosesAChannel(t *testing.T, code string) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "c")
	for _, ch := range []string{"a", "c"} {
		e.sink.WaitSeq(t, ch, 5, 10*time.Second)
	}
	e.killBlue(t)
	refuseB := func(d upstream.Dialer) upstream.Dialer {
		return wrapDialer{d, func(c upstream.Conn, _ upstream.Handler) upstream.Conn {
			return failingConn{Conn: c, channel: "b", code: code}
		}}
	}
	to, err := handover.Reattach(ctx, e.s, router.Green, func(c router.Color) upstream.Dialer { return refuseB(e.dialer(c)) }, handover.Options{})
	if err != nil || to != router.Green {
		t.Fatalf("reattach: %v, %v; want green with b lost", to, err)
	}
	var lost []string
	for _, ev := range e.sink.Events() {
		if ev.Kind == upstream.KindLost {
			lost = append(lost, ev.Channel)
		}
	}
	if len(lost) != 1 || lost[0] != "b" {
		t.Fatalf("lost events for %v, want b", lost)
	}
	in := e.s.Info()
	if len(in.Subscriptions) != 2 {
		t.Fatalf("subscriptions %+v, want a and c", in.Subscriptions)
	}
	if got := e.s.Counters().RecoveryFailed.Load(); got != 1 {
		t.Errorf("RecoveryFailed %d, want 1", got)
	}
	for _, ch := range []string{"a", "c"} { // both go on, on green
		e.sink.WaitSeq(t, ch, e.sink.Last(ch)+10, 10*time.Second)
	}
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"a", "c"} {
		e.sink.WaitSeq(t, ch, last[ch], 10*time.Second)
		e.sink.CheckExactly(t, ch, 1, last[ch])
	}
}
