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
