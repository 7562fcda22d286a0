package gateway_test

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// chaosBackend is a reference service that can be crashed and started
// again (on a new port, over the same broker, as a restarted process
// behind a service name), and whose connections from the gateway can be
// reset one by one.
type chaosBackend struct {
	t      *testing.T
	b      broker.Broker
	legacy bool
	hc     *http.Client

	mu    sync.Mutex
	cur   *backendtest.Backend
	down  bool
	conns []*net.TCPConn // dialed so far, not yet found closed
}

func newChaosBackend(t *testing.T, b broker.Broker, legacy bool) *chaosBackend {
	c := &chaosBackend{t: t, b: b, legacy: legacy}
	tr := &http.Transport{DialContext: c.dialTCP}
	c.hc = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	c.cur = c.start()
	return c
}

func (c *chaosBackend) start() *backendtest.Backend {
	if c.legacy {
		return backendtest.Legacy(c.t, c.b)
	}
	return backendtest.SocketIO(c.t, c.b)
}

func (c *chaosBackend) dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := conn.(*net.TCPConn)
	c.mu.Lock()
	c.conns = append(c.conns, tc)
	c.mu.Unlock()
	return tc, nil
}

func (c *chaosBackend) Protocol() config.Protocol {
	if c.legacy {
		return config.ProtocolLegacy
	}
	return config.ProtocolSocketIO
}

func (c *chaosBackend) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c.mu.Lock()
	url := c.cur.URL
	c.mu.Unlock()
	o := upstream.Options{URL: url, HTTPClient: c.hc, DialTimeout: 10 * time.Second}
	if c.legacy {
		return (&upstream.LegacyDialer{Options: o}).Dial(ctx, h)
	}
	return (&upstream.SocketIODialer{Options: o, Namespace: "/"}).Dial(ctx, h)
}

// resetOne resets (RST) one of the gateway's live connections to the
// backend, picked by r; it reports whether there was one.
func (c *chaosBackend) resetOne(r *rand.Rand) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.conns) > 0 {
		i := r.IntN(len(c.conns))
		tc := c.conns[i]
		c.conns = slices.Delete(c.conns, i, i+1)
		_ = tc.SetLinger(0)
		if tc.Close() == nil {
			return true
		}
	}
	return false
}

// crash kills the running service; restart starts a new one.
func (c *chaosBackend) crash() {
	c.mu.Lock()
	cur := c.cur
	c.down = true
	c.mu.Unlock()
	cur.Kill()
}

func (c *chaosBackend) restart() {
	nb := c.start()
	c.mu.Lock()
	c.cur, c.down = nb, false
	c.mu.Unlock()
}

func (c *chaosBackend) conns0() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur.Conns()
}
