package upstream

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
)

// CodeInjected is the RemoteError code of a fault added by Inject.
const CodeInjected = "injected_fault"

// Faults are problems Inject adds to a healthy backend, so that tests and
// the demo can show the gates and the automatic rollback without a broken
// service. The zero value adds nothing.
type Faults struct {
	// Latency delays every operation that waits for the backend
	// (subscribe, unsubscribe, publish, request) before it is sent. The
	// delay honours the operation's context.
	Latency time.Duration
	// ErrorRate is the share, from 0 to 1, of publishes and requests
	// answered with a *RemoteError of code CodeInjected instead of being
	// sent.
	ErrorRate float64
}

// Zero reports whether f adds nothing.
func (f Faults) Zero() bool { return f.Latency <= 0 && f.ErrorRate <= 0 }

// Inject returns a Dialer whose connections suffer f; d itself when f adds
// nothing. Put it under Observe so that the health records see the faults.
func Inject(d Dialer, f Faults) Dialer {
	if f.Zero() {
		return d
	}
	return &faultDialer{Dialer: d, f: f}
}

type faultDialer struct {
	Dialer
	f Faults
}

func (d *faultDialer) Dial(ctx context.Context, h Handler) (Conn, error) {
	c, err := d.Dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: c, h: h, f: d.f}, nil
}

type faultConn struct {
	Conn
	h Handler
	f Faults
}

// delay waits the injected latency, or for ctx.
func (c *faultConn) delay(ctx context.Context) error {
	if c.f.Latency <= 0 {
		return nil
	}
	return sleep.For(ctx, c.f.Latency)
}

// fail decides whether this operation gets an injected error reply.
func (c *faultConn) fail() error {
	if c.f.ErrorRate > 0 && rand.Float64() < c.f.ErrorRate {
		return &RemoteError{Code: CodeInjected, Message: "fault injected by the gateway"}
	}
	return nil
}

func (c *faultConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (Position, error) {
	if err := c.delay(ctx); err != nil {
		return Position{}, err
	}
	return c.Conn.Subscribe(ctx, channel, since, hasSince)
}

func (c *faultConn) Unsubscribe(ctx context.Context, channel string) error {
	if err := c.delay(ctx); err != nil {
		return err
	}
	return c.Conn.Unsubscribe(ctx, channel)
}

func (c *faultConn) Publish(ctx context.Context, channel string, data []byte) (uint64, error) {
	if err := c.delay(ctx); err != nil {
		return 0, err
	}
	if err := c.fail(); err != nil {
		return 0, err
	}
	return c.Conn.Publish(ctx, channel, data)
}

func (c *faultConn) PublishAsync(ctx context.Context, channel string, data []byte, reply func(uint64, error)) error {
	if err := c.delay(ctx); err != nil {
		return err
	}
	if err := c.fail(); err != nil {
		reply(0, err)
		c.h.Flush()
		return nil
	}
	return c.Conn.PublishAsync(ctx, channel, data, reply)
}

func (c *faultConn) Request(ctx context.Context, event string, args [][]byte) ([][]byte, error) {
	if err := c.delay(ctx); err != nil {
		return nil, err
	}
	if err := c.fail(); err != nil {
		return nil, err
	}
	return c.Conn.Request(ctx, event, args)
}
