package handover_test

import (
	"context"
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

// lateRecoveryConn: the second subscribe of "a" (the session's recovery
// after subscription_lost) is taken by the backend, but its ack comes
// only after the recovery gave up (its 10 s bound).
type lateRecoveryConn struct {
	upstream.Conn
	subs *atomic.Int32
}

func (c lateRecoveryConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	if channel != "a" || c.subs.Add(1) != 2 {
		return c.Conn.Subscribe(ctx, channel, since, hasSince)
	}
	_, _ = c.Conn.Subscribe(context.WithoutCancel(ctx), channel, since, hasSince)
	<-ctx.Done()
	return upstream.Position{}, ctx.Err()
}

// A recovery whose resubscribe times out after the backend took it tells
// the client the channel is lost. When the client then subscribes again on
// the same session, as it should, the backend holds no orphaned
// subscription to refuse it with already_subscribed. (It takes the
// recovery's 10 s bound, so it runs beside the package's other tests.)
func TestRecoveryTimeoutLeavesNoOrphan(t *testing.T) {
	t.Parallel()
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
	ctx := testenv.Context(t, 40*time.Second)
	var n atomic.Int32
	var mu sync.Mutex
	var h upstream.Handler
	var conn upstream.Conn
	d := wrapDialer{blue.Dialer(), func(c upstream.Conn, ch upstream.Handler) upstream.Conn {
		mu.Lock()
		h, conn = ch, c
		mu.Unlock()
		return lateRecoveryConn{Conn: c, subs: &n}
	}}
	if err := handover.Attach(ctx, s, router.Blue, d, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, "a", 0, false); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	_ = conn.Unsubscribe(ctx, "a")                                       // blue ends the subscription...
	h.HandleEvent(upstream.Event{Kind: upstream.KindLost, Channel: "a"}) // ...and says so
	mu.Unlock()
	if !sink.WaitFor(15*time.Second, func() bool { return len(sink.Events()) == 1 }) {
		t.Fatal("the client was not told the channel is lost")
	}
	if _, err := s.Subscribe(ctx, "a", 0, false); err != nil {
		t.Fatalf("the client's new subscribe after subscription_lost: %v", err)
	}
}
