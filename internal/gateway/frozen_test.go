package gateway_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// behindFreezeProxy wraps blue's legacy dialer to dial through a proxy,
// returned in *proxy, whose Stall freezes blue as a backend process that
// froze leaves it (its kernel still accepts and ACKs, no FIN ever comes);
// set, if given, adjusts the dialer.
func behindFreezeProxy(t *testing.T, proxy **testenv.Proxy, set func(*upstream.LegacyDialer)) func(upstream.Dialer) upstream.Dialer {
	return func(d upstream.Dialer) upstream.Dialer {
		ld := *d.(*upstream.LegacyDialer)
		u, err := url.Parse(ld.URL)
		if err != nil {
			t.Fatal(err)
		}
		*proxy = testenv.StartProxy(t, u.Host)
		u.Host = (*proxy).Addr()
		ld.URL = u.String()
		if set != nil {
			set(&ld)
		}
		return &ld
	}
}

// TestFrozenLegacyBackendIsLeft: blue, a legacy backend, freezes while
// sessions sit on it: no byte comes from it any more, its connections
// stay open and new ones are taken but never answered. The gateway's
// heartbeat finds each silent connection within ping_interval +
// ping_timeout and treats it as a drop: the sessions are re-attached to
// green (blue's dial times out), and their clients see every seq once, in
// order. Without a heartbeat on legacy connections they stayed on the
// frozen blue, silent, for as long as it stayed frozen.
func TestFrozenLegacyBackendIsLeft(t *testing.T) {
	const (
		pingInterval = 200 * time.Millisecond
		pingTimeout  = 300 * time.Millisecond
		dialTimeout  = time.Second
	)
	var proxy *testenv.Proxy
	e := setupOptions(t, 0, behindFreezeProxy(t, &proxy, func(ld *upstream.LegacyDialer) {
		ld.DialTimeout, ld.PingInterval, ld.PingTimeout = dialTimeout, pingInterval, pingTimeout
	}), nil, func(o *gateway.Options) { o.Handover.Timeout = 5 * time.Second })
	clients := e.attach(t, 10, []string{"a", "b"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}
	proxy.Stall()

	// Found within ping_interval + ping_timeout, then blue's dial fails
	// after dial_timeout.
	awaitServedByGreen(t, e, p, clients, fmt.Sprintf("sessions still on the frozen blue (heartbeat %v + %v)", pingInterval, pingTimeout))
	if st := e.g.Status(); st.Moves.Drops != uint64(len(clients)) || st.Moves.Reattached != uint64(len(clients)) {
		t.Errorf("drops %d, reattached %d, want %d each", st.Moves.Drops, st.Moves.Reattached, len(clients))
	}
}

// TestCloseWithAFrozenBackendIsBounded: sessions sit on a legacy backend
// that froze (its heartbeat too slow to have noticed yet) when the
// gateway closes. Ending each session waits, bounded, for the frozen
// backend to answer the close; one after another, ten took about 50 s,
// and a SIGTERM's drain would run out long before a real fleet's did.
func TestCloseWithAFrozenBackendIsBounded(t *testing.T) {
	var proxy *testenv.Proxy
	e := setupOptions(t, 0, behindFreezeProxy(t, &proxy, nil), nil, nil)
	clients := e.attach(t, 10, []string{"a"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}
	if _, err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	proxy.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.g.Close(ctx); err != nil {
		t.Fatalf("close with %d sessions on a frozen backend: %v after %v", len(clients), err, time.Since(start))
	}
	t.Logf("closed in %v", time.Since(start))
}
