package eio

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestConnWaitRoom: WaitRoom waits while the queue is too full, returns
// once a poll has taken it, and gives up on ctx or on close.
func TestConnWaitRoom(t *testing.T) {
	ts := startServer(t, Config{QueuePackets: 4})
	sid := ts.openPolling(t)
	c := ts.srv.lookup(sid)
	for i := range 4 {
		if err := c.SendText([]byte{'a' + byte(i)}); err != nil {
			t.Fatal(err)
		}
	}

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.WaitRoom(canceled, 1, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("full queue, canceled ctx: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- c.WaitRoom(t.Context(), 2, 1) }()
	select {
	case err := <-done:
		t.Fatalf("WaitRoom returned %v on a full queue", err)
	case <-time.After(20 * time.Millisecond):
	}
	if status, body, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || !strings.Contains(body, "4d") {
		t.Fatalf("poll: %d %q", status, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("after the poll took the queue: %v", err)
	}

	c.Close()
	if err := c.WaitRoom(t.Context(), 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
