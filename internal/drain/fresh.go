package drain

import (
	"net"
	"net/http"
	"sync"
)

// Fresh tracks an HTTP server's connections that have sent no request
// yet (http.StateNew). http.Server.Shutdown counts such a connection as
// idle only after 5 s, and a client may hold one open at any time (the
// official Socket.IO client dials one for its next POST while its GET
// waits), so a shutdown closes them itself once its drain is done: there
// is nothing of theirs to drain. The zero value is ready; set Track as the
// server's ConnState.
type Fresh struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Track is an http.Server ConnState hook.
func (f *Fresh) Track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st != http.StateNew {
		delete(f.conns, c)
		return
	}
	if f.conns == nil {
		f.conns = make(map[net.Conn]struct{})
	}
	f.conns[c] = struct{}{}
}

// CloseAll closes the connections that have still sent no request.
func (f *Fresh) CloseAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
	}
	clear(f.conns)
}
