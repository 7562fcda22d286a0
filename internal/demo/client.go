package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/sioclient"
)

// Protocol is the edge protocol a simulated client speaks.
type Protocol string

// Edge protocols of the simulated clients.
const (
	Legacy   Protocol = "legacy"
	SocketIO Protocol = "socketio"
)

// requestChannel receives the clients' requests (publish with ack). Nobody
// subscribes to it, so requests measure request→ack without adding fan-out.
const requestChannel = "demo.requests"

// clientTimeout bounds a client's dial, each subscribe and each request.
const clientTimeout = 10 * time.Second

// ErrDisconnected is why a client whose connection ended is reported.
var ErrDisconnected = errors.New("demo: client disconnected")

// errNoPosition: a Socket.IO subscribe ack came without the channel's
// position, which the order check needs.
var errNoPosition = errors.New("demo: subscribe ack without seq")

// simClient is one simulated user: one connection to the gateway's edge,
// subscribed to a few channels, checking every message it gets and making
// a request now and then. It never reconnects: the demo's promise is that
// it never has to.
type simClient struct {
	f        *fleet
	user     string
	proto    Protocol
	channels []string

	// One of these, by proto.
	lc   *legacyclient.Client
	sc   *sioclient.Client
	sock *sioclient.Socket

	closing atomic.Bool // we are closing it: the end is not a disconnect

	mu      sync.Mutex
	streams map[string]*stream
	pause   pauses
	endErr  error // why the connection ended unasked; nil while up
}

// deliver records one message; it runs on the connection's reader.
func (c *simClient) deliver(channel string, seq uint64) {
	now := time.Now()
	from := c.f.measuringSince()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.f.delivered.Add(1)
	st, ok := c.streams[channel]
	if !ok {
		c.f.stray.Add(1) // a channel it never subscribed to
		return
	}
	st.message(seq)
	c.pause.delivered(now, from)
}

func (c *simClient) acked(channel string, pos uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streams[channel].ack(pos)
}

// ended records an end of the connection that the demo did not ask for.
func (c *simClient) ended(err error) {
	if c.closing.Load() {
		return
	}
	if err == nil {
		err = errors.New("closed by the peer")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endErr == nil {
		c.endErr = fmt.Errorf("%w: %s: %w", ErrDisconnected, c.user, err)
	}
}

func (c *simClient) alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endErr == nil
}

// dial connects the client to the edge at addr and subscribes its
// channels.
func (c *simClient) dial(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	q := "?user=" + url.QueryEscape(c.user)
	switch c.proto {
	case Legacy:
		lc, err := legacyclient.Dial(ctx, "ws://"+addr+"/ws"+q, legacyclient.Options{MessageBuffer: 4096})
		if err != nil {
			return err
		}
		c.lc = lc
		c.f.readers.Go(func() {
			for m := range lc.Messages() {
				c.deliver(m.Channel, m.Seq)
			}
			c.ended(lc.Err())
		})
	case SocketIO:
		sc, err := sioclient.Dial(ctx, "http://"+addr+"/socket.io/"+q, sioclient.Options{
			OnEvent: func(_ *sioclient.Socket, ev sioclient.Event) {
				if ev.Message != nil {
					c.deliver(ev.Message.Channel, ev.Message.Seq)
				}
			},
			OnClose: func(_ *sioclient.Client, err error) { c.ended(err) },
		})
		if err != nil {
			return err
		}
		c.sc = sc
		if c.sock, err = sc.Connect(ctx, "/", nil); err != nil {
			_ = sc.Close()
			return err
		}
	}
	for _, ch := range c.channels {
		pos, err := c.subscribe(ctx, ch)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", ch, err)
		}
		c.acked(ch, pos)
	}
	return nil
}

// subscribe subscribes to channel and returns the position the ack
// carries: the first message of the subscription is pos+1.
func (c *simClient) subscribe(ctx context.Context, channel string) (uint64, error) {
	if c.lc != nil {
		return c.lc.Subscribe(ctx, channel, nil)
	}
	pos, hasPos, err := c.sock.SubscribeAt(ctx, channel, nil)
	if err != nil {
		return 0, err
	}
	if !hasPos {
		return 0, fmt.Errorf("subscribe %s: %w", channel, errNoPosition)
	}
	return pos, nil
}

// publish is one request: a publish with ack.
func (c *simClient) publish(ctx context.Context, channel string, data []byte) error {
	if c.lc != nil {
		_, err := c.lc.Publish(ctx, channel, data)
		return err
	}
	_, err := c.sock.Publish(ctx, channel, data)
	return err
}

// requestLoop makes a request every period (the first after a random
// part of it, so the fleet's requests spread evenly) until ctx ends or the
// connection does. A request under way when ctx ends runs to its end.
func (c *simClient) requestLoop(ctx context.Context, period time.Duration) {
	t := time.NewTimer(rand.N(period) + time.Millisecond)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.alive() || c.closing.Load() {
			return
		}
		data := []byte(`{"user":` + strconv.Quote(c.user) + `,"n":` + strconv.Itoa(n) + `}`)
		backend := c.f.backendOf(c.user)
		// Not canceled with ctx: a legacy client closes its connection
		// when the context of a write in progress ends, and the end of the
		// traffic must not end a session (Run tallies them right after).
		// Closing the fleet ends a request still waiting.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), clientTimeout)
		start := time.Now()
		err := c.publish(rctx, requestChannel, data)
		took := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return // the demo is ending: not the backend's doing
		}
		c.f.lat.record(backend, took, err)
		t.Reset(period)
	}
}

// close ends the client's connection normally.
func (c *simClient) close() {
	c.closing.Store(true)
	switch {
	case c.lc != nil:
		_ = c.lc.Close()
	case c.sc != nil:
		_ = c.sc.Close()
	}
}
