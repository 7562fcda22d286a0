package eio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// orderHandler records whether OnClose ever came before OnOpen.
type orderHandler struct {
	mu     sync.Mutex
	opened map[*Conn]bool
	bad    int
}

func (h *orderHandler) OnOpen(c *Conn) {
	h.mu.Lock()
	h.opened[c] = true
	h.mu.Unlock()
}
func (h *orderHandler) OnMessage(*Conn, []byte, bool) {}
func (h *orderHandler) OnClose(c *Conn, _ error) {
	h.mu.Lock()
	if !h.opened[c] {
		h.bad++
	}
	h.mu.Unlock()
}

// The Handler's calls for one Conn come in the order OnOpen, OnMessage...,
// OnClose, also when Shutdown closes a session that is being opened
// (sio's OnClose reads what its OnOpen stored, and would panic).
func TestShutdownDuringHandshakeKeepsHandlerOrder(t *testing.T) {
	for i := range 500 {
		h := &orderHandler{opened: map[*Conn]bool{}}
		srv, err := NewServer(Config{PingInterval: time.Minute, DrainPeriod: time.Millisecond}, h)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil)
			srv.ServeHTTP(httptest.NewRecorder(), req)
		}()
		for {
			srv.mu.Lock()
			n := len(srv.conns)
			srv.mu.Unlock()
			if n > 0 {
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		wg.Wait()
		h.mu.Lock()
		bad := h.bad
		h.mu.Unlock()
		if bad > 0 {
			t.Fatalf("iteration %d: OnClose ran before OnOpen", i)
		}
	}
}

// stuckHandler's OnMessage waits until OnClosing has run, as a handler
// waiting on a backend would wait for its context.
type stuckHandler struct {
	closing chan error    // OnClosing's
	closed  chan struct{} // closed by OnClose
	early   atomic.Bool   // OnClose came while OnMessage still waited
	waiting atomic.Bool
}

func (h *stuckHandler) OnOpen(*Conn) {}
func (h *stuckHandler) OnMessage(*Conn, []byte, bool) {
	h.waiting.Store(true)
	<-h.closing
	h.waiting.Store(false)
}
func (h *stuckHandler) OnClosing(_ *Conn, err error) { h.closing <- err }
func (h *stuckHandler) OnClose(*Conn, error) {
	h.early.Store(h.waiting.Load())
	close(h.closed)
}

// A ClosingHandler hears of the end while a message is being handled,
// and OnClose follows once that call has returned.
func TestOnClosingReachesAHandlerCallInProgress(t *testing.T) {
	h := &stuckHandler{closing: make(chan error, 1), closed: make(chan struct{})}
	srv, err := NewServer(Config{PingInterval: time.Minute, PingTimeout: time.Minute}, h)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ts := &testServer{srv: srv, url: hs.URL + "/engine.io/", http: hs}
	sid := ts.openPolling(t)
	posted := make(chan struct{})
	go func() { // not through do, which would fail the test off its goroutine
		defer close(posted)
		if resp, err := http.Post(ts.pollURL(sid), "text/plain", strings.NewReader("4hello")); err == nil {
			_ = resp.Body.Close()
		}
	}()
	for !h.waiting.Load() {
		time.Sleep(time.Millisecond)
	}
	srv.lookup(sid).Close()
	select {
	case <-h.closed:
	case <-time.After(5 * time.Second):
		h.closing <- nil // release the handler, so that the test can end
		t.Fatal("OnClose never came: the handler call was not told of the end")
	}
	if h.early.Load() {
		t.Error("OnClose ran while OnMessage was still in progress")
	}
	<-posted
}
