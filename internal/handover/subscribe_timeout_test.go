package handover_test

import (
	"context"
	"errors"
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

// lateAckDialer's connections answer their first subscribe only after
// the caller gave up: the backend did subscribe, and the late ack is
// dropped as the answer to an abandoned request, as the drivers do.
type lateAckDialer struct {
	upstream.Dialer
	first *atomic.Bool
}

func (d lateAckDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := d.Dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	return lateAckConn{Conn: c, first: d.first}, nil
}

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
	if err := handover.Attach(ctx, s, router.Blue, lateAckDialer{Dialer: blue.Dialer(), first: &first}, handover.Options{}); err != nil {
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
