package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/upstream"
)

// stallingDialer dials through d; a connection dialed while stall is set
// acknowledges its subscribes as d's does and then passes none of their
// messages, its connection open: a backend that acks and stalls.
type stallingDialer struct {
	upstream.Dialer
	stall *atomic.Bool
}

func (d stallingDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	if !d.stall.Load() {
		return d.Dialer.Dial(ctx, h)
	}
	c, err := d.Dialer.Dial(ctx, stallingHandler{h})
	if err != nil {
		return nil, err
	}
	return stallingConn{c}, nil
}

type stallingHandler struct{ upstream.Handler }

func (h stallingHandler) HandleEvent(ev upstream.Event) {
	if ev.Kind != upstream.KindMessage {
		h.Handler.HandleEvent(ev)
	}
}

type stallingConn struct{ upstream.Conn }

// Subscribe lets the channel go on a moment before the backend reads
// where it stands, so that its ack announces messages past the since.
func (c stallingConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	time.Sleep(20 * time.Millisecond)
	return c.Conn.Subscribe(ctx, channel, since, hasSince)
}

// TestStallingBackendIsLeft: blue's connections drop, and blue then
// acknowledges every re-attach's subscribes and sends nothing more. Each
// such connection is found within handover.timeout and dropped; after a
// few in a row the sessions go to green, and their clients see every seq
// once, in order. Before, they stayed on the stalling blue, silent.
func TestStallingBackendIsLeft(t *testing.T) {
	var stall atomic.Bool
	e := setupOptions(t, 0, func(d upstream.Dialer) upstream.Dialer { return stallingDialer{d, &stall} }, nil,
		func(o *gateway.Options) { o.Handover.Timeout = time.Second })
	clients := e.attach(t, 3, []string{"a", "b"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}
	stall.Store(true)
	e.blue.DropConns()
	awaitServedByGreen(t, e, p, clients, "sessions still on the stalling blue")
	st := e.g.Status()
	t.Logf("moves %+v", st.Moves)
	if st.Moves.Stalls < uint64(len(clients)) || st.Moves.Stalls > st.Moves.Drops {
		t.Errorf("moves %+v: want at least %d stalls, each also a drop", st.Moves, len(clients))
	}
	if c, live := clients[0].s.Attached(); c != router.Green || !live {
		t.Errorf("on %v (live %v), want green", c, live)
	}
}
