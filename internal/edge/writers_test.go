package edge

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// loopFunc is a write loop for the pool's tests.
type loopFunc func()

func (f loopFunc) writeLoop() { f() }

// TestWriterPool: write loops that run one after another run on one
// goroutine; a loop that starts while every writer is busy gets a
// goroutine of its own; stop ends the idle writers.
func TestWriterPool(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := newWriterPool()
	p.idle = time.Minute // no idle exit in the first part
	defer p.stop()

	done := make(chan int, 1)
	for i := range 20 {
		p.run(loopFunc(func() { done <- i }))
		waitLoop(t, done, i)
		// A finished writer is back waiting for the next loop a moment
		// later; run does not wait for it (it starts another), so leave
		// it that moment, as bursts usually do.
		time.Sleep(2 * time.Millisecond)
	}
	// One goroutine, give or take one that a very slow moment let start:
	// a goroutine per loop would be 20.
	if got := p.started.Load(); got > 3 {
		t.Fatalf("20 loops one after another started %d goroutines, want 1 (at most 3)", got)
	}

	// While a pool's only writer is held by a loop, the next loop starts
	// another.
	busy := newWriterPool()
	defer busy.stop()
	hold := make(chan struct{})
	busy.run(loopFunc(func() { <-hold }))
	busy.run(loopFunc(func() { done <- 100 }))
	waitLoop(t, done, 100)
	close(hold)
	if got := busy.started.Load(); got != 2 {
		t.Fatalf("a loop started while the only writer was busy: %d goroutines started, want 2", got)
	}
	p.stop()
	busy.stop() // the deferred VerifyNone (with retries) sees the writers end
}

// TestWriterPoolIdleExit: an idle writer exits by itself.
func TestWriterPoolIdleExit(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := newWriterPool()
	p.idle = 20 * time.Millisecond
	done := make(chan int, 1)
	p.run(loopFunc(func() { done <- 1 }))
	waitLoop(t, done, 1)
	// No stop: VerifyNone passes only once the writer has left on its own
	// (after one to two idle periods).
}

func waitLoop(t *testing.T, done <-chan int, want int) {
	t.Helper()
	select {
	case got := <-done:
		if got != want {
			t.Fatalf("loop %d ran, want %d", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("loop %d did not run", want)
	}
}
