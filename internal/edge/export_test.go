package edge

import "github.com/coder/websocket"

// LegacyCloseCodes takes the legacy connections open now and returns a
// function that reports the close code each has been given so far (0:
// none), so that a test can tell a close from a bare cut.
func LegacyCloseCodes(s *Server) func() []websocket.StatusCode {
	s.mu.Lock()
	conns := make([]*legacyConn, 0, len(s.legacy))
	for c := range s.legacy {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	return func() []websocket.StatusCode {
		codes := make([]websocket.StatusCode, len(conns))
		for i, c := range conns {
			c.mu.Lock()
			codes[i] = c.closeCode
			c.mu.Unlock()
		}
		return codes
	}
}
