package edge

import (
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/session"
)

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

// LegacySink returns the session sink of the one legacy connection open
// now, and a function that makes it hold channel's messages as while a
// subscribe of channel is pending, returning the one that lets them go
// as the subscribe's ack would.
func LegacySink(s *Server) (sink session.Sink, hold func(channel string) (release func())) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.legacy) != 1 {
		panic("LegacySink: want exactly one legacy connection")
	}
	for c := range s.legacy {
		sink = c
		hold = func(channel string) func() {
			c.box.begin(channel)
			return func() {
				c.box.end(channel, true, 0, func() {})
				c.Flush()
			}
		}
	}
	return sink, hold
}

// Replaying reports whether the connection of session id (legacy or
// Socket.IO) has a replay under way, during which its backend reader is
// paced to the client.
func Replaying(s *Server, id string) bool {
	s.mu.Lock()
	for c := range s.legacy {
		if c.id == id {
			s.mu.Unlock()
			return c.box.replaying.Load()
		}
	}
	s.mu.Unlock()
	if so := s.io.Of("/").Socket(id); so != nil {
		if c, _ := so.Value().(*sioConn); c != nil {
			return c.box.replaying.Load()
		}
	}
	panic("Replaying: no connection of session " + id)
}

// WithWriterWait returns opts whose legacy readers wait for a writer that
// writes nothing for d (collectWait, 1 s, otherwise) before they read on.
func WithWriterWait(opts Options, d time.Duration) Options {
	opts.writerWait = d
	return opts
}
