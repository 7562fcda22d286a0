package testenv

import "sync"

// Handlers tracks the HTTP handlers of a test server that outlive
// httptest.Server.Close (a hijacked WebSocket keeps its handler running), so
// a test's cleanup can wait for them. A plain WaitGroup is not enough: a
// handler starting late would call Add while the cleanup is already in Wait.
type Handlers struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Enter registers a handler; false means the server is closing and the
// handler must return at once. Every Enter that returns true needs a Leave.
func (h *Handlers) Enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

// Leave ends a handler registered by Enter.
func (h *Handlers) Leave() { h.wg.Done() }

// CloseAndWait refuses new handlers and waits for the running ones.
func (h *Handlers) CloseAndWait() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.wg.Wait()
}
