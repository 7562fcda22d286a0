package upstream_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/upstream"
)

// blockingHandler blocks in its first HandleEvent until release is closed,
// and notes any call made after HandleClose.
type blockingHandler struct {
	entered, release chan struct{}
	first            atomic.Bool
	closed           atomic.Bool
	late             atomic.Int64 // calls after HandleClose
}

func (h *blockingHandler) HandleEvent(upstream.Event) {
	if h.closed.Load() {
		h.late.Add(1)
	}
	if h.first.CompareAndSwap(false, true) {
		close(h.entered)
		<-h.release
	}
}
func (h *blockingHandler) HandleClose(error) { h.closed.Store(true) }
func (h *blockingHandler) Flush() {
	if h.closed.Load() {
		h.late.Add(1)
	}
}

// A Close made while the reader is inside HandleEvent waits for that
// call to return before HandleClose runs, and the handler gets no call
// after HandleClose (sioclient reports the end on the closing goroutine,
// without waiting for a reader that is in a callback).
func TestSocketIOCloseWaitsForTheReader(t *testing.T) {
	url := scriptedSocketIO(t, func(s *sio.Socket, e *sio.Event) {
		_ = s.Emit("ev", []byte(`1`))
	})
	h := &blockingHandler{entered: make(chan struct{}), release: make(chan struct{})}
	c := dialSocketIO(t, url, h)
	if err := c.Emit(context.Background(), "publish", [][]byte{[]byte(`{"channel":"c","data":1}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	closed := make(chan struct{})
	go func() { _ = c.Close(); close(closed) }()
	var early bool
	select {
	case <-closed:
		early = true // Close returned while the reader is still in HandleEvent
	case <-time.After(500 * time.Millisecond):
	}
	close(h.release)
	<-closed
	time.Sleep(100 * time.Millisecond)
	if early || h.late.Load() > 0 {
		t.Fatalf("Close returned while the reader was inside HandleEvent: %v; handler calls after HandleClose: %d", early, h.late.Load())
	}
}

// closeWatcher notes HandleClose and counts the Flushes after it.
type closeWatcher struct {
	closed     chan struct{}
	lateFlush  atomic.Int64
	closedOnce atomic.Bool
}

func (h *closeWatcher) HandleEvent(upstream.Event) {}
func (h *closeWatcher) HandleClose(error) {
	if h.closedOnce.CompareAndSwap(false, true) {
		close(h.closed)
	}
}
func (h *closeWatcher) Flush() {
	if h.closedOnce.Load() {
		h.lateFlush.Add(1)
	}
}

// A PublishAsync reply that the request timeout gives up just as the
// connection ends can run after HandleClose. Its Flush must still come:
// the reply has queued an answer for the client, which would otherwise
// wait for whatever flushes next. The test holds the reply until the end
// has been handled, the race's worst turn.
func TestSocketIOReplyAfterCloseIsFlushed(t *testing.T) {
	url := scriptedSocketIO(t, func(*sio.Socket, *sio.Event) {}) // never answers
	h := &closeWatcher{closed: make(chan struct{})}
	c := dialSocketIOWith(t, upstream.Options{URL: url, RequestTimeout: 50 * time.Millisecond}, h)
	entered, replied := make(chan struct{}), make(chan error, 1)
	err := c.PublishAsync(context.Background(), "c", []byte(`1`), func(_ uint64, err error) {
		close(entered)
		select {
		case <-h.closed:
		case <-time.After(5 * time.Second):
		}
		replied <- err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered: // the sweep gave the request up
	case <-time.After(5 * time.Second):
		t.Fatal("the request was not given up")
	}
	go func() { _ = c.Close() }()
	if err := <-replied; err == nil {
		t.Fatal("the reply carries no error")
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.lateFlush.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h.lateFlush.Load() == 0 {
		t.Fatal("no Flush after a reply that ran after HandleClose")
	}
}
