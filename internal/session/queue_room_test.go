package session

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestQueueWaitRoom: WaitRoom returns at once when there is room, waits
// while there is none (by count or bytes) until Drain, and gives up on ctx
// or Close.
func TestQueueWaitRoom(t *testing.T) {
	q := newQ(t, 4, 100)
	if err := q.WaitRoom(t.Context(), 4, 100); err != nil {
		t.Fatalf("empty queue: %v", err)
	}
	for i := range 3 {
		if err := q.Push(i, 30); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.WaitRoom(t.Context(), 1, 10); err != nil {
		t.Fatalf("room for one more: %v", err)
	}

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.WaitRoom(canceled, 1, 11); !errors.Is(err, context.Canceled) {
		t.Fatalf("no room by bytes, canceled ctx: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- q.WaitRoom(t.Context(), 2, 1) }() // no room by count
	select {
	case err := <-done:
		t.Fatalf("WaitRoom returned %v without room", err)
	case <-time.After(20 * time.Millisecond):
	}
	if got := q.Drain(nil); len(got) != 3 {
		t.Fatalf("drained %v", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("after Drain: %v", err)
	}

	// Beyond the bounds: clamped, so it waits for an empty queue.
	if err := q.Push(9, 1); err != nil {
		t.Fatal(err)
	}
	go func() { done <- q.WaitRoom(t.Context(), 10, 1000) }()
	q.Close()
	if err := <-done; !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
