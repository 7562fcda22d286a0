package edge

import (
	"sync"
	"sync/atomic"
	"time"
)

// writerIdle is how long a writer goroutine waits for the next connection
// that needs one before it exits.
const writerIdle = 2 * time.Second

// writerPool runs the legacy connections' write loops (legacy_writer.go).
// A write loop lasts one burst, and a goroutine started for each one
// begins on a small stack that the write path (net, internal/poll, the
// syscall) outgrows, so every burst paid a stack copy: 6 % of the
// gateway's CPU in a fan-out. Here a goroutine that finishes a loop waits
// a while for the next connection to write, keeping its grown stack.
//
// No connection ever waits for a goroutine: when none is idle a new one
// starts, as before, so a write blocked on a slow client holds up nobody
// else. Idle goroutines exit after writerIdle (up to twice that), or at
// stop. Their number is not capped: after a burst to many connections at
// once (a fan-out) as many stay, each with its stack, for those seconds,
// which is what lets the next burst reuse them; at rest there are none.
type writerPool struct {
	ready   chan writeLooper // unbuffered: taken only by an idle writer
	quit    chan struct{}
	once    sync.Once
	idle    time.Duration // writerIdle but in tests
	started atomic.Int64  // goroutines started
}

// writeLooper is a connection with a write loop to run (*legacyConn).
type writeLooper interface{ writeLoop() }

func newWriterPool() *writerPool {
	return &writerPool{ready: make(chan writeLooper), quit: make(chan struct{}), idle: writerIdle}
}

// run runs c's write loop on an idle writer, or on a new one.
func (p *writerPool) run(c writeLooper) {
	select {
	case p.ready <- c:
	default:
		p.started.Add(1)
		go p.work(c)
	}
}

func (p *writerPool) work(c writeLooper) {
	c.writeLoop()
	// The timer is not reset per loop, which would cost a timer update
	// per burst: a writer exits at a tick with no loop since the last one,
	// so after between p.idle and twice that.
	idle := time.NewTicker(p.idle)
	defer idle.Stop()
	ran := false
	for {
		select {
		case c = <-p.ready:
			c.writeLoop()
			ran = true
		case <-idle.C:
			if !ran {
				return
			}
			ran = false
		case <-p.quit:
			return
		}
	}
}

// stop ends the idle writers. Call it once no connection can start a
// write loop any more; a loop that runs finishes first.
func (p *writerPool) stop() { p.once.Do(func() { close(p.quit) }) }
