package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
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

// waitRoomWaiting waits until a producer is blocked in WaitRoom (it has
// made the room channel), so that what the test does next happens while it
// waits rather than before it checks.
func waitRoomWaiting(t *testing.T, q *Queue[int]) {
	t.Helper()
	testenv.Eventually(t, "a producer waiting in WaitRoom", 5*time.Second, func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.room != nil
	})
}

// TestQueueWaitRoomWakesWaiters: a producer already blocked in WaitRoom is
// released by the Drain that empties the queue, also when it asked for more
// than the bounds (clamped: it waits for an empty queue, not forever), and
// by Close (ErrQueueClosed, not a hang until its ctx ends).
func TestQueueWaitRoomWakesWaiters(t *testing.T) {
	q := newQ(t, 4, 100)
	if err := q.Push(1, 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- q.WaitRoom(t.Context(), 10, 1000) }()
	waitRoomWaiting(t, q)
	q.Drain(nil)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("beyond the bounds, after the Drain that emptied the queue: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitRoom beyond the bounds still waiting on an empty queue")
	}

	if err := q.Push(2, 1); err != nil {
		t.Fatal(err)
	}
	go func() { done <- q.WaitRoom(t.Context(), 4, 1) }()
	waitRoomWaiting(t, q)
	q.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrQueueClosed) {
			t.Fatalf("waiter after Close: %v, want ErrQueueClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release a producer waiting in WaitRoom")
	}
}
