package session_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/upstream"
)

// fakeDialer makes in-memory connections whose traffic the test injects.
type fakeDialer struct {
	mu    sync.Mutex
	conns []*fakeConn
}

func (d *fakeDialer) Protocol() config.Protocol { return config.ProtocolLegacy }

func (d *fakeDialer) Dial(_ context.Context, h upstream.Handler) (upstream.Conn, error) {
	c := &fakeConn{h: h, done: make(chan struct{}), subErr: make(map[string]error)}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	return c, nil
}

func (d *fakeDialer) last() *fakeConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[len(d.conns)-1]
}

type fakeConn struct {
	h    upstream.Handler
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	calls   []string
	subErr  map[string]error
	pos     upstream.Position
	publish chan struct{} // when set, Publish waits for it
	// acked, when set, runs as Subscribe returns its ack, on the
	// subscriber's goroutine: what the backend sends right behind the ack,
	// handled by the reader before the subscriber has resumed.
	acked func(channel string, since uint64)
}

func (c *fakeConn) record(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}

func (c *fakeConn) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

func (c *fakeConn) Subscribe(_ context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	c.record(fmt.Sprintf("subscribe %s %d %v", channel, since, hasSince))
	c.mu.Lock()
	err, pos, acked := c.subErr[channel], c.pos, c.acked
	c.mu.Unlock()
	if err != nil {
		return upstream.Position{}, err
	}
	if acked != nil {
		acked(channel, since)
	}
	return pos, nil
}

func (c *fakeConn) Unsubscribe(_ context.Context, channel string) error {
	c.record("unsubscribe " + channel)
	return nil
}

func (c *fakeConn) Publish(ctx context.Context, channel string, _ []byte) (uint64, error) {
	c.record("publish " + channel)
	c.mu.Lock()
	wait := c.publish
	c.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return 1, nil
}

func (c *fakeConn) PublishAsync(ctx context.Context, channel string, data []byte, reply func(uint64, error)) error {
	seq, err := c.Publish(ctx, channel, data)
	reply(seq, err)
	c.h.Flush()
	return nil
}

func (c *fakeConn) Request(_ context.Context, event string, args [][]byte) ([][]byte, error) {
	c.record("request " + event)
	return args, nil
}

func (c *fakeConn) Emit(_ context.Context, event string, _ [][]byte) error {
	c.record("emit " + event)
	return nil
}

// end ends the connection as the backend would, with err.
func (c *fakeConn) end(err error) {
	c.once.Do(func() {
		c.h.HandleClose(err)
		close(c.done)
	})
}

func (c *fakeConn) Close() error          { c.end(nil); return nil }
func (c *fakeConn) Done() <-chan struct{} { return c.done }
func (c *fakeConn) Err() error            { return nil }

// msg injects a message as the connection's read loop would.
func (c *fakeConn) msg(channel string, seq uint64) {
	c.h.HandleEvent(upstream.Event{Kind: upstream.KindMessage, Channel: channel, Seq: seq, Data: []byte(`1`)})
}
