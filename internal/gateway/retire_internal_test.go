package gateway

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestRetirerHold: held retirements wait for the release, unless the
// queue passes half its bound; close runs what is left.
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

	r.hold()
	for range retireQueue / 2 {
		r.run(inc)
	}
	waitRan(3 + retireQueue/2) // half the queue: no longer held back
	r.run(inc)
	r.close() // held, but closing runs it
	if n := ran.Load(); n != 4+retireQueue/2 {
		t.Fatalf("%d ran after close, want %d", n, 4+retireQueue/2)
	}
	r.run(inc) // after close: inline
	if n := ran.Load(); n != 5+retireQueue/2 {
		t.Fatalf("a retirement after close did not run inline")
	}
	r.release()
}
