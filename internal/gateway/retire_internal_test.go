package gateway

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestRetirerHold: held retirements wait for the release (a worker busy
// when the hold starts takes no more), unless the queue reaches half its
// bound; close runs what is left.
func TestRetirerHold(t *testing.T) {
	var r retirer
	var ran atomic.Int32
	inc := func() { ran.Add(1) }
	waitRan := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for ran.Load() != n {
			if time.Now().After(deadline) {
				t.Fatalf("%d retirements ran, want %d", ran.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// A worker still busy when the hold starts does not run what is
	// queued after it.
	busy, started := make(chan struct{}), make(chan struct{})
	r.run(func() { close(started); <-busy; inc() })
	<-started
	r.hold()
	for range 3 {
		r.run(inc)
	}
	close(busy)
	waitRan(1)
	time.Sleep(20 * time.Millisecond)
	if n := ran.Load(); n != 1 {
		t.Fatalf("%d retirements ran while held", n-1)
	}
	r.release()
	waitRan(4)
	ran.Store(0)

	r.hold()
	for range 3 {
		r.run(inc)
	}
	time.Sleep(20 * time.Millisecond)
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d retirements ran while held", n)
	}
	r.release()
	waitRan(3)

	// Held, the queue runs only what brings it back under half its
	// bound; closing runs the rest.
	r.hold()
	for range retireQueue / 2 {
		r.run(inc)
	}
	waitRan(3 + 1)
	time.Sleep(20 * time.Millisecond)
	if n := ran.Load(); n != 3+1 {
		t.Fatalf("%d ran past half the queue, want 1", n-3)
	}
	r.close()
	if n := ran.Load(); n != 3+retireQueue/2 {
		t.Fatalf("%d ran after close, want %d", n, 3+retireQueue/2)
	}
	r.run(inc) // after close: inline
	if n := ran.Load(); n != 4+retireQueue/2 {
		t.Fatalf("a retirement after close did not run inline")
	}
	r.release()
}
