package gateway_test

import (
	"context"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/upstream"
)

// freezeProxy forwards loopback TCP connections to a target until it is
// frozen: then it forwards nothing more on the connections it holds and
// takes new ones without answering, as a backend process that froze does
// (its kernel still accepts and ACKs, and no FIN ever comes).
type freezeProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	frozen bool
	conns  []net.Conn
	thaw   chan struct{} // closed when the test ends
}

func startFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, target: target, thaw: make(chan struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *freezeProxy) addr() string { return p.ln.Addr().String() }

func (p *freezeProxy) accept() {
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, a)
		frozen := p.frozen
		p.mu.Unlock()
		if frozen {
			continue // taken, never answered
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = a.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, b)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(a, b) })
		p.wg.Go(func() { p.pipe(b, a) })
	}
}

// pipe copies src to dst; once the proxy is frozen, what it reads is
// held, and the pipe waits for the test's end.
func (p *freezeProxy) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		frozen := p.frozen
		p.mu.Unlock()
		if frozen {
			<-p.thaw
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

func (p *freezeProxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *freezeProxy) close() {
	_ = p.ln.Close()
	close(p.thaw)
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// behindFreezeProxy wraps blue's legacy dialer to dial through a
// freezeProxy, returned in *proxy; set, if given, adjusts the dialer.
func behindFreezeProxy(t *testing.T, proxy **freezeProxy, set func(*upstream.LegacyDialer)) func(upstream.Dialer) upstream.Dialer {
	return func(d upstream.Dialer) upstream.Dialer {
		ld := *d.(*upstream.LegacyDialer)
		u, err := url.Parse(ld.URL)
		if err != nil {
			t.Fatal(err)
		}
		*proxy = startFreezeProxy(t, u.Host)
		u.Host = (*proxy).addr()
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
	var proxy *freezeProxy
	e := setupOptions(t, 0, behindFreezeProxy(t, &proxy, func(ld *upstream.LegacyDialer) {
		ld.DialTimeout, ld.PingInterval, ld.PingTimeout = dialTimeout, pingInterval, pingTimeout
	}), nil, func(o *gateway.Options) { o.Handover.Timeout = 5 * time.Second })
	clients := e.attach(t, 10, []string{"a", "b"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}
	proxy.freeze()

	// Found within ping_interval + ping_timeout, then blue's dial fails
	// after dial_timeout; the bound is loose for loaded machines.
	deadline := time.Now().Add(20 * time.Second)
	for e.g.Status().Sessions.Green != len(clients) {
		if time.Now().After(deadline) {
			t.Fatalf("sessions still on the frozen blue after 20s (heartbeat %v + %v): %+v", pingInterval, pingTimeout, e.g.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := p.Last("a")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, before+5, 10*time.Second)
	}
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, last[c.ch], 10*time.Second)
		c.sink.CheckExactly(t, c.ch, 1, last[c.ch])
		if closed, why := c.sink.Closed(); closed {
			t.Fatalf("%s: client closed: %v", c.s.User(), why)
		}
	}
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
	var proxy *freezeProxy
	e := setupOptions(t, 0, behindFreezeProxy(t, &proxy, nil), nil, nil)
	clients := e.attach(t, 10, []string{"a"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}
	if _, err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	proxy.freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.g.Close(ctx); err != nil {
		t.Fatalf("close with %d sessions on a frozen backend: %v after %v", len(clients), err, time.Since(start))
	}
	t.Logf("closed in %v", time.Since(start))
}
