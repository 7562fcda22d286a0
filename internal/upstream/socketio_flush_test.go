package upstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sio"
)

// A PublishAsync answered by the backend is handed over on the reader,
// and its Flush is owed (Handler contract: "after every PublishAsync
// reply, on the reply's goroutine", even after HandleClose). The
// session's reply wrapper releases the attachment before it replies, so a
// retirement waiting for the drain closes the connection right then, on
// another goroutine; a Close that completed HandleClose before the reader
// reached OnDrained left the client's ack queued. The test holds the reply
// until HandleClose has run, the race's worst turn (as
// TestSocketIOReplyAfterCloseIsFlushed does for the timeout path).
func TestSocketIOAnsweredReplyDuringCloseIsFlushed(t *testing.T) {
	url := scriptedSocketIO(t, func(s *sio.Socket, e *sio.Event) {
		_ = e.Ack([]byte(`{"ok":true,"seq":7}`))
	})
	h := &closeWatcher{closed: make(chan struct{})}
	c := dialSocketIO(t, url, h)
	entered := make(chan struct{})
	replied := make(chan error, 1)
	err := c.PublishAsync(context.Background(), "c", []byte(`1`), func(_ uint64, err error) {
		close(entered) // the drain is over: the retirement closes now
		select {
		case <-h.closed:
		case <-time.After(2 * time.Second):
		}
		replied <- err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	go func() { _ = c.Close() }()
	if err := <-replied; err != nil {
		t.Fatalf("reply: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.lateFlush.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h.lateFlush.Load() == 0 {
		t.Fatal("no Flush after an answered PublishAsync reply that ran across HandleClose: the client's ack stays queued")
	}
}
