// Package edge is the gateway's client-facing side: one http.Handler that
// serves legacy WebSocket clients at /ws and Socket.IO clients (websocket
// and long-polling) at /socket.io/, turns their frames into session
// operations (package session) and writes what the session delivers back
// to them.
//
// # One connection
//
// A client is identified before it costs anything (user key from a query
// parameter, a header or a verified JWT; see Identifier), then attached to
// the gateway, which picks its backend. Its requests are handled in the
// order they arrive, on the connection's reader: answers come back in
// request order, as from the reference services. What the backend sends
// goes through Sink.Deliver, which only queues: a legacy connection has
// its own bounded queue, drained by a write loop that runs only while
// something is queued and writes each batch in one write(2) (package
// wsconn), on a goroutine of the edge's writerPool; a Socket.IO
// connection uses the Engine.IO session's bounded queue and writer.
//
// Browser clients must come from an allowed Origin (config
// edge.origin_patterns; see originPolicy): both listeners refuse any other
// with 403 before identifying the client, and every Socket.IO request is
// checked, polling GETs and POSTs included, not only the handshake.
//
// Overflow rule (config edge.overflow): "disconnect" closes a client whose
// queue is full (legacy: close 1008 "slow_consumer"; Socket.IO: the
// Engine.IO session is closed), "drop_newest" discards a channel message
// with a seq and keeps the client, which sees the gap; what a client could
// not see missing (a message without seq, a custom event) still
// disconnects it, and a client's answers to its own requests (legacy acks,
// errors and pongs; Socket.IO acks) are queued past the bound, by a little
// (see errDropped). Both are counted in Stats.
//
// A subscribe's ack reaches the client before the first message of that
// subscription: messages that the backend sends before the session's
// Subscribe has returned are held (bounded like the queue) and queued
// right after the ack. The one exception is a backend that sends them
// before it acks, more than half a queue's worth: after a second's wait
// for the ack they go on ahead of it, as from that backend directly (see
// outbox.awaitHeld). Held messages are dropped, unseen, when their
// subscribe starts over (outbox.subscribe): one without since that the
// session carried over to a re-attach and whose new backend refused the
// since they led to.
//
// Lock order: session (its mu, held around Sink calls), then the
// connection's outbox, then the connection's mu (which holds a legacy
// connection's queue).
package edge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/drain"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/sio"
)

// Paths the edge serves.
const (
	LegacyPath   = "/ws"
	SocketIOPath = "/socket.io/"
)

// Defaults of Options.
const (
	DefaultRequestTimeout = config.DefaultRequestTimeout
	DefaultDrainPeriod    = 5 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
)

// ErrShuttingDown closes clients during a graceful shutdown.
var ErrShuttingDown = errors.New("edge: shutting down")

// Options configure a Server.
type Options struct {
	// Gateway holds the sessions. Required.
	Gateway *gateway.Gateway
	// Identity says where a client's user key comes from; Load it with
	// config defaults applied.
	Identity config.Identity
	// Edge bounds each connection; zero fields take the config defaults.
	Edge config.Edge
	// RequestTimeout bounds one client request to the backend (subscribe,
	// unsubscribe, custom request). Zero means DefaultRequestTimeout. A
	// publish's answer is bounded by the backend connection instead
	// (upstream.Options.RequestTimeout, the same default), so that a
	// publish costs no timer of its own.
	RequestTimeout time.Duration
	// DrainPeriod spreads the closes of a graceful shutdown. Zero means
	// DefaultDrainPeriod.
	DrainPeriod time.Duration
	// WriteTimeout bounds one batch of writes to a legacy client. Zero
	// means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger

	// writerWait is how long a legacy connection's reader waits for a
	// writer that writes nothing before it reads on (see awaitWriter).
	// Zero means collectWait; tests shorten it.
	writerWait time.Duration
}

// Stats are the edge's counters, as the admin API's status reports them
// under "edge".
type Stats struct {
	Legacy        int    `json:"legacy"`         // legacy connections open now
	SocketIO      int    `json:"socketio"`       // Socket.IO sessions open now
	Accepted      uint64 `json:"accepted"`       // connections attached since start
	Unauthorized  uint64 `json:"unauthorized"`   // connections refused for a missing or bad identity
	AttachFailed  uint64 `json:"attach_failed"`  // connections refused because no backend took them
	SlowConsumers uint64 `json:"slow_consumers"` // clients closed because their queue overflowed
	Dropped       uint64 `json:"dropped"`        // messages discarded by the drop_newest rule
	// TooLarge counts client frames refused for their size: legacy
	// connections closed for a frame over edge.max_message_bytes, and
	// requests answered message_too_large (over the backend's limit,
	// backends.<color>.max_message_bytes), or events dropped for it.
	TooLarge     uint64 `json:"too_large"`
	ErrorReplies uint64 `json:"error_replies"` // error frames / error acks sent to clients
	// OriginRejected counts requests refused with 403 because their
	// Origin is not allowed (edge.origin_patterns), on either listener
	// and on every Socket.IO request, polling included.
	OriginRejected uint64 `json:"origin_rejected"`
	// AsksNotBridged counts a Socket.IO backend's events asking for an
	// acknowledgement that reached their client as plain events, so that
	// the backend's callback is never called: sent to a legacy client,
	// or to a Socket.IO client already owing 64 such acks.
	AsksNotBridged uint64 `json:"asks_not_bridged"`
	// PingTimeouts counts clients closed by the heartbeat: legacy clients
	// that sent nothing for edge.ping_timeout after a ping (close 1001
	// "ping_timeout"), and Socket.IO sessions whose pong did not come in
	// time.
	PingTimeouts uint64 `json:"ping_timeouts"`
}

// Server is the edge. It is an http.Handler.
type Server struct {
	opts Options
	g    *gateway.Gateway
	id   *Identifier
	orig originPolicy
	io   *sio.Server
	mux  *http.ServeMux
	log  *slog.Logger

	mu       sync.Mutex
	legacy   map[*legacyConn]struct{}
	draining bool
	wg       sync.WaitGroup // legacy connections being set up or served
	writers  *writerPool    // the legacy connections' write loops

	accepted, unauthorized, attachFailed atomic.Uint64
	slow, dropped, tooLarge, errReplies  atomic.Uint64
	originRejected, asksNotBridged       atomic.Uint64
	pingTimeouts                         atomic.Uint64
	// notCarriedNext is when the next event not carried to a client
	// (legacy or Socket.IO) may be logged (Unix ns); notCarriedQuiet counts those not
	// logged since the last line (see notCarried).
	notCarriedNext  atomic.Int64
	notCarriedQuiet atomic.Uint64
}

// New returns an edge over opts.Gateway.
func New(opts Options) (*Server, error) {
	if opts.Gateway == nil {
		return nil, errors.New("edge: Options.Gateway is required")
	}
	cfg := config.Config{Identity: opts.Identity, Edge: opts.Edge}
	cfg.SetDefaults()
	opts.Identity, opts.Edge = cfg.Identity, cfg.Edge
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.DrainPeriod <= 0 {
		opts.DrainPeriod = DefaultDrainPeriod
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.writerWait <= 0 {
		opts.writerWait = collectWait
	}
	id, err := NewIdentifier(opts.Identity)
	if err != nil {
		return nil, err
	}
	orig, err := newOriginPolicy(opts.Edge.OriginPatterns)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    opts,
		g:       opts.Gateway,
		id:      id,
		orig:    orig,
		log:     opts.Logger,
		legacy:  make(map[*legacyConn]struct{}),
		writers: newWriterPool(),
	}
	if err := s.mountSocketIO(); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(LegacyPath, s.serveLegacy)
	s.mux.HandleFunc(SocketIOPath, s.serveSocketIO)
	return s, nil
}

// ServeHTTP routes a client request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Legacy: len(s.legacy)}
	s.mu.Unlock()
	st.SocketIO = s.io.Of("/").Len()
	st.Accepted = s.accepted.Load()
	st.Unauthorized = s.unauthorized.Load()
	st.AttachFailed = s.attachFailed.Load()
	st.SlowConsumers = s.slow.Load() + s.io.Engine().Stats().SlowConsumers
	st.PingTimeouts = s.pingTimeouts.Load() + s.io.Engine().Stats().PingTimeouts
	st.Dropped = s.dropped.Load()
	st.TooLarge = s.tooLarge.Load()
	st.ErrorReplies = s.errReplies.Load()
	st.OriginRejected = s.originRejected.Load()
	st.AsksNotBridged = s.asksNotBridged.Load()
	return st
}

// Shutdown stops accepting clients and closes the open ones gracefully
// (close code 1001; each first gets what was already queued for it),
// spread over the drain period so that they do not all reconnect at once.
// It returns when every connection has ended, or with ctx's error after
// cutting the rest. The caller closes the gateway afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	conns := make([]*legacyConn, 0, len(s.legacy))
	for c := range s.legacy {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	var sioErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		sioErr = s.io.Shutdown(ctx)
	}()
	legErr := s.drainLegacy(ctx, conns)
	s.writers.stop() // every legacy connection has ended
	wg.Wait()
	return errors.Join(legErr, sioErr)
}

// drainLegacy closes conns one by one over the drain period (the rest at
// once if ctx ends first, see drain.Spread), then waits for them to end,
// cutting them when ctx ends: the socket is closed (wsconn.Link.Cut),
// since CloseNow would only wait for a close handshake in progress.
func (s *Server) drainLegacy(ctx context.Context, conns []*legacyConn) error {
	return drain.Conns(ctx, s.opts.DrainPeriod, len(conns),
		func(i int) { conns[i].closeWith(closeShutdown, reasonShutdown, true) },
		func(i int) { conns[i].link.Cut() },
		s.wg.Wait)
}

// isDraining reports whether Shutdown has begun.
func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}
