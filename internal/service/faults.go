package service

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// ErrInjected is the detail of an error reply made up by Faults.
var ErrInjected = errors.New("injected fault")

// Faults make a reference service misbehave on purpose, so that the demo and
// the rollback tests can show a bad green deployment being caught. A nil
// *Faults injects nothing, so the services call it unconditionally.
//
// Faults apply to publish requests, the requests clients make and time;
// subscribes are left alone so that live moves still succeed and it is the
// health gates, not failed moves, that catch the fault. The abrupt crash of a
// whole service is CrashListener's job.
//
// Set the fields before the service starts; they are read concurrently.
type Faults struct {
	// Latency delays the reply to every publish (ack or error) by this much.
	// The publish itself happens at once and the connection's reader is not
	// held up: the reply is sent from a timer. Zero means no delay.
	Latency time.Duration
	// ErrorRate is the share of publish requests, 0 to 1, refused with an
	// internal error instead of being published. Refusals are spread evenly
	// (request i fails when floor(i·rate) grows), not drawn at random, so a
	// run of n requests fails exactly floor(n·rate) of them.
	ErrorRate float64

	requests atomic.Uint64
}

// Validate reports a field no service can honour.
func (f *Faults) Validate() error {
	switch {
	case f == nil:
		return nil
	case f.Latency < 0:
		return fmt.Errorf("%w: Faults.Latency %s < 0", ErrInvalidLimits, f.Latency)
	case math.IsNaN(f.ErrorRate) || f.ErrorRate < 0 || f.ErrorRate > 1:
		return fmt.Errorf("%w: Faults.ErrorRate %v not in [0, 1]", ErrInvalidLimits, f.ErrorRate)
	}
	return nil
}

// refuse counts one publish request and reports whether it is to fail.
func (f *Faults) refuse() bool {
	if f == nil || f.ErrorRate <= 0 {
		return false
	}
	i := f.requests.Add(1)
	return math.Floor(float64(i)*f.ErrorRate) > math.Floor(float64(i-1)*f.ErrorRate)
}

// delay is how long to hold a publish's reply.
func (f *Faults) delay() time.Duration {
	if f == nil {
		return 0
	}
	return f.Latency
}

// The helpers below send a reply now, or from a timer after d. They copy
// what the timer needs inside the delayed branch only, so that a service
// without faults allocates nothing for them. A reply that fires after its
// connection ended is dropped by the connection, as any late reply.

func ackAfter(d time.Duration, e *sio.Event, args []byte) {
	if d <= 0 {
		_ = e.Ack(args)
		return
	}
	ev, b := e, args
	time.AfterFunc(d, func() { _ = ev.Ack(b) })
}

func replyErrorAfter(d time.Duration, e *sio.Event, code, msg string) {
	if d <= 0 {
		replyError(e, code, msg)
		return
	}
	ev := e
	time.AfterFunc(d, func() { replyError(ev, code, msg) })
}

func (c *legacyConn) sendAfter(d time.Duration, f legacy.Frame) {
	if d <= 0 {
		c.send(f)
		return
	}
	later := f
	time.AfterFunc(d, func() { c.send(later) })
}

func (c *legacyConn) failAfter(d time.Duration, id uint64, code, msg, channel string) {
	if d <= 0 {
		c.fail(id, code, msg, channel)
		return
	}
	time.AfterFunc(d, func() { c.fail(id, code, msg, channel) })
}

// CrashListener wraps a service's listener so that the whole service can
// die abruptly, as a killed process would: Crash closes the listener and
// every connection it accepted, hijacked WebSocket connections included,
// with no close frame and no drain.
type CrashListener struct {
	net.Listener

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	crashed bool
}

// NewCrashListener wraps ln.
func NewCrashListener(ln net.Listener) *CrashListener {
	return &CrashListener{Listener: ln, conns: make(map[net.Conn]struct{})}
}

// Accept accepts the next connection and tracks it until it is closed.
func (l *CrashListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.crashed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// Crash closes the listener and every open connection at once. It is
// idempotent.
func (l *CrashListener) Crash() { l.crash(false) }

// CrashReset is Crash with a TCP reset on every connection (SO_LINGER 0),
// so peers see a reset rather than an orderly end of stream.
func (l *CrashListener) CrashReset() { l.crash(true) }

// ResetConns resets every open connection (SO_LINGER 0) and goes on
// accepting new ones, as a service that drops its connections, not its
// listener, does.
func (l *CrashListener) ResetConns() {
	l.mu.Lock()
	conns := l.conns
	l.conns = make(map[net.Conn]struct{})
	l.mu.Unlock()
	resetAll(conns, true)
}

func (l *CrashListener) crash(reset bool) {
	l.mu.Lock()
	l.crashed = true
	conns := l.conns
	l.conns = make(map[net.Conn]struct{})
	l.mu.Unlock()
	_ = l.Listener.Close()
	resetAll(conns, reset)
}

// resetAll closes conns, with a TCP reset if reset.
func resetAll(conns map[net.Conn]struct{}, reset bool) {
	for c := range conns {
		tc, ok := c.(*trackedConn)
		if !ok {
			continue
		}
		if t, ok := tc.Conn.(*net.TCPConn); ok && reset {
			_ = t.SetLinger(0)
		}
		_ = tc.Conn.Close()
	}
}

// Open is the number of accepted connections not yet closed.
func (l *CrashListener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Crashed reports whether Crash was called.
func (l *CrashListener) Crashed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.crashed
}

// trackedConn forgets itself when closed, so a long-lived listener does
// not hold every connection it ever accepted.
type trackedConn struct {
	net.Conn
	l    *CrashListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
