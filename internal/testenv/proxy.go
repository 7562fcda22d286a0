package testenv

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards loopback TCP connections to a target (a Redis server, a
// backend) and
// can silently drop everything on the connections it holds, as a network
// Partition would, leave new ones unanswered, as a stuck server does, or
// refuse them, as a server that is down does (all of them, or only the
// next few: RefuseNext).
type Proxy struct {
	l      net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	links []*link
	// hang, once set (Stall), makes the proxy take new connections and answer
	// nothing on them, as a server that is stuck (a long script, DEBUG
	// SLEEP) does while the kernel still accepts; hung holds them.
	hang bool
	hung []net.Conn
	// refuse, while set (Down), makes the proxy close every connection it takes
	// at once, as a Redis that is down (restarting) leaves its clients.
	refuse bool
	// refuseNext is how many of the next connections to close at once
	// (RefuseNext); the links already made stay.
	refuseNext int
}

type link struct {
	a, b    net.Conn
	dropped atomic.Bool
	// swallowed: since it was dropped, the side that dialed the proxy
	// sent it something (Swallowed).
	swallowed atomic.Bool
}

// StartProxy starts a Proxy to target on a free loopback port; it is
// closed when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{l: l, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Addr is the address clients dial instead of the target.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

func (p *Proxy) accept() {
	for {
		a, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.refuse || p.refuseNext > 0 {
			if !p.refuse {
				p.refuseNext--
			}
			p.mu.Unlock()
			_ = a.Close()
			continue
		}
		if p.hang {
			p.hung = append(p.hung, a)
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = a.Close()
			continue
		}
		lk := &link{a: a, b: b}
		p.mu.Lock()
		p.links = append(p.links, lk)
		p.mu.Unlock()
		p.wg.Go(func() { lk.pipe(a, b) })
		p.wg.Go(func() { lk.pipe(b, a) })
	}
}

// pipe copies src to dst until either side closes; once the link is
// dropped, what it reads goes nowhere.
func (lk *link) pipe(src, dst net.Conn) {
	defer lk.a.Close()
	defer lk.b.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if lk.dropped.Load() {
				if src == lk.a {
					lk.swallowed.Store(true)
				}
			} else if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Partition silences every connection made so far.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, lk := range p.links {
		lk.dropped.Store(true)
	}
}

// Swallowed is how many of the connections silenced so far have since
// been sent something by the side that dialed the proxy, which reached
// nobody: a test waits on it for its requests to be in flight.
func (p *Proxy) Swallowed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, lk := range p.links {
		if lk.swallowed.Load() {
			n++
		}
	}
	return n
}

// Stall silences every connection made so far and leaves new ones
// unanswered.
func (p *Proxy) Stall() {
	p.Partition()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang = true
}

// Down closes every connection and refuses new ones until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = true
	for _, lk := range p.links {
		_ = lk.a.Close()
		_ = lk.b.Close()
	}
	p.links = nil
}

// Up lets new connections through again.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = false
}

// RefuseNext closes the next n connections at once, as a server that
// turns some away under load does, and lets the ones after through; the
// connections made so far stay.
func (p *Proxy) RefuseNext(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuseNext = n
}

// Stalled is how many connections the proxy took after Stall.
func (p *Proxy) Stalled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.hung)
}

func (p *Proxy) close() {
	_ = p.l.Close()
	p.mu.Lock()
	for _, c := range p.hung {
		_ = c.Close()
	}
	for _, lk := range p.links {
		_ = lk.a.Close()
		_ = lk.b.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
