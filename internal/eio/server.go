package eio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/drain"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wsconn"
)

// Server is an Engine.IO v4 server. Mount it at the Engine.IO path; it
// reads only the query (EIO, transport, sid), not the URL path.
type Server struct {
	cfg     Config
	handler Handler

	mu       sync.Mutex
	conns    map[string]*Conn // sessions a request may still address
	shutdown bool

	accepted      atomic.Uint64
	slowConsumers atomic.Uint64
	upgrades      atomic.Uint64
	pingTimeouts  atomic.Uint64
}

// Stats are a server's counters.
type Stats struct {
	Open          int    // sessions a request may still address
	Accepted      uint64 // sessions opened since start
	Upgrades      uint64 // polling sessions upgraded to WebSocket
	SlowConsumers uint64 // sessions closed because their queue overflowed
	PingTimeouts  uint64 // sessions closed because no pong came in time
}

// NewServer returns a server that hands its sessions to h. Zero fields of
// cfg take their defaults.
func NewServer(cfg Config, h Handler) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil Handler", ErrInvalidConfig)
	}
	return &Server{cfg: cfg, handler: h, conns: make(map[string]*Conn)}, nil
}

// Config returns the server's configuration with defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return Stats{
		Open:          n,
		Accepted:      s.accepted.Load(),
		Upgrades:      s.upgrades.Load(),
		SlowConsumers: s.slowConsumers.Load(),
		PingTimeouts:  s.pingTimeouts.Load(),
	}
}

// ServeHTTP routes one Engine.IO request: a handshake, a poll, a POST of
// packets, or a WebSocket (new, or upgrading a polling session). Checks and
// their order follow the Node server, so refusals carry the same codes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.CORS.apply(w, r) {
		return
	}
	q := r.URL.Query()
	transport := q.Get("transport")
	upgrade := isWebSocketUpgrade(r)
	refuse := func(code int) {
		e := requestError{code: code}
		if upgrade {
			e.writeUpgrade(w)
		} else {
			e.writeHTTP(w)
		}
	}
	if !s.cfg.allows(transport) {
		refuse(codeUnknownTransport)
		return
	}
	if sid := q.Get("sid"); sid != "" {
		c := s.lookup(sid)
		if c != nil && c.expired() {
			c = nil
		}
		if c == nil {
			refuse(codeUnknownSID)
			return
		}
		if (!upgrade && c.Transport() != transport) || q.Get("EIO") != "4" {
			refuse(codeBadRequest)
			return
		}
		if upgrade {
			s.upgradeWebSocket(c, w, r, transport)
			return
		}
		c.servePolling(w, r)
		return
	}
	if r.Method != http.MethodGet {
		refuse(codeBadHandshakeMethod)
		return
	}
	if transport == TransportWebSocket && !upgrade {
		refuse(codeBadRequest)
		return
	}
	if s.cfg.CheckRequest != nil {
		if err := s.cfg.CheckRequest(requestInfo(r)); err != nil {
			e := requestError{code: codeForbidden, message: err.Error()}
			if upgrade {
				e.writeUpgrade(w)
			} else {
				e.writeHTTP(w)
			}
			return
		}
	}
	if q.Get("EIO") != "4" {
		refuse(codeUnsupportedProtocol)
		return
	}
	s.handshake(w, r, transport)
}

// SetCORSHeaders sets on w the cross-origin headers (Config.CORS) the
// server's own answer to r would carry, for an answer that a handler in
// front of the server gives instead, such as a refusal: as with Node's
// cors middleware, a browser can then read it.
func (s *Server) SetCORSHeaders(w http.ResponseWriter, r *http.Request) {
	s.cfg.CORS.setHeaders(w, r)
}

func isWebSocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		wsconn.HeaderHasToken(r.Header, "Connection", "upgrade")
}

// requestInfo is what Config.CheckRequest sees of r: what a session
// would keep of it (see requestRecord).
func requestInfo(r *http.Request) RequestInfo { return recordRequest(r).info() }

// requestRecord is what a session keeps of the request that opened it:
// its headers but the handshake's, as name/value pairs, the raw query and
// the peer's address. Flat strings rather than the maps of a RequestInfo,
// which Request builds when asked (once per namespace a client joins),
// so that an idle session holds about a kilobyte less.
type requestRecord struct {
	header     []string // canonical name, value, name, value, ...
	rawQuery   string
	remoteAddr string
}

func recordRequest(r *http.Request) requestRecord {
	n := 0
	for k, vs := range r.Header {
		if !handshakeHeader(k) {
			n += 2 * len(vs)
		}
	}
	h := make([]string, 0, n)
	for k, vs := range r.Header {
		if handshakeHeader(k) {
			continue
		}
		for _, v := range vs {
			h = append(h, k, v)
		}
	}
	return requestRecord{header: h, rawQuery: r.URL.RawQuery, remoteAddr: r.RemoteAddr}
}

// info builds the RequestInfo the record keeps. A malformed query yields
// what parses of it, as url.URL.Query does.
func (rr requestRecord) info() RequestInfo {
	h := make(http.Header, len(rr.header)/2)
	for i := 0; i+1 < len(rr.header); i += 2 {
		h[rr.header[i]] = append(h[rr.header[i]], rr.header[i+1])
	}
	q, _ := url.ParseQuery(rr.rawQuery)
	return RequestInfo{Header: h, Query: q, RemoteAddr: rr.remoteAddr}
}

// handshakeHeader reports whether the canonical header name k only
// concerns the WebSocket handshake.
func handshakeHeader(k string) bool {
	switch k {
	case "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions":
		return true
	}
	return false
}

// handshake opens a new session on transport and answers r with the open
// packet.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, transport string) {
	id, err := newSID()
	if err != nil {
		requestError{code: codeBadRequest}.writeHTTP(w)
		return
	}
	c := newConn(s, id, transport, r)
	// OnOpen comes before any other call of the handler, OnClose included:
	// a Shutdown may close the session as soon as it is in s.conns.
	c.recvMu.Lock()
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		c.recvMu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.conns[id] = c
	s.mu.Unlock()
	s.accepted.Add(1)

	open := engineio.OpenPacket(engineio.Handshake{
		SID:          id,
		Upgrades:     s.cfg.upgradesFrom(transport),
		PingInterval: int(s.cfg.PingInterval / time.Millisecond),
		PingTimeout:  int(s.cfg.PingTimeout / time.Millisecond),
		MaxPayload:   s.cfg.MaxPayload,
	})
	if transport == TransportWebSocket {
		_ = c.push(outGroup{packets: []engineio.Packet{open}}) // the queue is empty
		s.openSession(c)
		s.acceptWebSocket(c, w, r)
		return
	}
	// Like Node, the handshake response holds the open packet alone;
	// whatever OnOpen sends goes to the next poll.
	s.openSession(c)
	_ = writePayload(w, []engineio.Packet{open})
}

// openSession runs OnOpen under c.recvMu, which handshake took, and
// releases it.
func (s *Server) openSession(c *Conn) {
	s.handler.OnOpen(c)
	c.recvMu.Unlock()
	c.startHeartbeat()
}

// newSID returns 20 URL-safe characters (120 random bits), the length of
// the Node server's ids.
func newSID() (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("eio: session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (s *Server) lookup(sid string) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[sid]
}

// forget makes a session unaddressable.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	s.mu.Unlock()
}

// Shutdown refuses new sessions and closes the open ones gracefully (close
// code 1001 on WebSocket), spread evenly over the drain period so clients
// do not all reconnect in the same instant (drain.Spread: the period is
// capped at half the time left before ctx's deadline), then waits for every
// session to finish. When ctx ends first, the sessions not closed yet are
// closed at once, those still open are cut, and Shutdown returns ctx's
// error after they have finished.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	return drain.Conns(ctx, s.cfg.DrainPeriod, len(conns),
		func(i int) { conns[i].closeWith(ErrShutdown, true, engineio.Close) },
		func(i int) { conns[i].abort() },
		func() {
			for _, c := range conns {
				c.work.Wait()
			}
		})
}
