package sio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"

	"github.com/baton-rt/baton/internal/eio"
)

// Server is a Socket.IO server. Create namespaces with Of before serving;
// the set of namespaces is static (Node's dynamic namespaces are not
// supported), and a CONNECT to any other name is refused with
// "Invalid namespace".
type Server struct {
	cfg    Config
	engine *eio.Server

	mu  sync.RWMutex
	nsp map[string]*Namespace
}

// NewServer returns a server with the main namespace "/" already created.
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, nsp: make(map[string]*Namespace)}
	engine, err := eio.NewServer(cfg.Engine, s)
	if err != nil {
		return nil, fmt.Errorf("sio: %w", err)
	}
	s.engine = engine
	s.Of("/")
	return s, nil
}

// Handler is the HTTP handler to mount at the Socket.IO path (usually
// "/socket.io/").
func (s *Server) Handler() http.Handler { return s.engine }

// Engine is the underlying Engine.IO server (for its stats).
func (s *Server) Engine() *eio.Server { return s.engine }

// Of returns the namespace called name, creating it on first use. A name
// without a leading slash gets one.
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nsp[name]
	if n == nil {
		n = newNamespace(s, name)
		s.nsp[name] = n
	}
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsp[name]
}

// Shutdown closes every connection gracefully, spread over the Engine.IO
// drain period (WebSocket close code 1001), and waits for them; see
// eio.Server.Shutdown. Clients reconnect elsewhere, as with the Node
// server's close.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.engine.Shutdown(ctx)
}

// OnOpen, OnMessage and OnClose make the server the eio.Handler of its
// engine; they are not for other callers.
func (s *Server) OnOpen(c *eio.Conn) {
	c.SetData(newClient(s, c))
}

// OnMessage implements eio.Handler.
func (s *Server) OnMessage(c *eio.Conn, data []byte, binary bool) {
	c.Data().(*client).onMessage(data, binary)
}

// OnClose implements eio.Handler.
func (s *Server) OnClose(c *eio.Conn, err error) {
	c.Data().(*client).onClose(err)
}

// OnClosing implements eio.ClosingHandler: the sockets' contexts end as
// soon as the connection does, so that an event handler waiting on one
// stops then rather than hold back OnClose.
func (s *Server) OnClosing(c *eio.Conn, err error) {
	if cl, _ := c.Data().(*client); cl != nil {
		cl.cancelSockets(err)
	}
}

var _ eio.ClosingHandler = (*Server)(nil)

// newID returns 20 URL-safe random characters, like Node's socket ids.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}
