package edge

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// loopFunc is a write loop for the pool's tests.
type loopFunc func()

func (f loopFunc) writeLoop() { f() }

// TestWriterPool: a writer that finished a loop waits for the next one
// and runs it; a loop that starts while every writer is busy gets a
// goroutine of its own; stop ends the idle writers.
func TestWriterPool(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := newWriterPool()
	defer p.stop()

	done := make(chan int, 3)
	p.run(loopFunc(func() { done <- 1 }))
	waitLoop(t, done, 1)

	// The writer is idle now (or about to be): handed straight to it, the
	// next loop runs without a new goroutine.
	select {
	case p.ready <- loopFunc(func() { done <- 2 }):
	case <-time.After(5 * time.Second):
		t.Fatal("no idle writer took the second loop")
	}
	waitLoop(t, done, 2)
	if got := p.started.Load(); got != 1 {
		t.Fatalf("started %d goroutines, want 1", got)
	}

	// While that writer is held by a loop, the next loop starts another.
	hold := make(chan struct{})
	select {
	case p.ready <- loopFunc(func() { <-hold }):
	case <-time.After(5 * time.Second):
		t.Fatal("the idle writer did not take the blocking loop")
	}
	p.run(loopFunc(func() { done <- 3 }))
	waitLoop(t, done, 3)
	close(hold)
	if got := p.started.Load(); got != 2 {
		t.Fatalf("started %d goroutines, want 2", got)
	}
	p.stop() // VerifyNone (deferred, with retries) sees both writers end
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
