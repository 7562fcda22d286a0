package eio

import (
	"context"
	"net/http/httptest"
	"sync"
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
