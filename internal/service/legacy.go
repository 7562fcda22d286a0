package service

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/drain"
	"github.com/baton-rt/baton/internal/wire/legacy"
	"github.com/baton-rt/baton/internal/wsconn"
)

// LegacyPath is where the legacy service accepts WebSocket connections.
const LegacyPath = "/ws"

// Close codes the legacy service uses (docs/protocols/legacy.md, "Closing").
const (
	CloseSlowConsumer = websocket.StatusPolicyViolation // 1008, reason "slow_consumer"
	CloseTooLarge     = websocket.StatusMessageTooBig   // 1009
	CloseShutdown     = websocket.StatusGoingAway       // 1001, reason "shutting_down"
)

// LegacyOptions configure a Legacy service.
type LegacyOptions struct {
	// Limits bound each connection; zero fields take their defaults.
	Limits Limits
	// OriginPatterns are the cross-origin hosts allowed to connect (see
	// websocket.AcceptOptions). Nil allows same-origin browsers and every
	// non-browser client.
	OriginPatterns []string
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger
	// Faults injects failures (demo and tests); nil injects none.
	Faults *Faults
}

// LegacyStats are the legacy service's counters.
type LegacyStats struct {
	Connections   int64  // open now
	Accepted      uint64 // connections accepted since start
	SlowConsumers uint64 // connections closed because their queue overflowed
	TooLarge      uint64 // connections closed for an oversized frame
	ErrorFrames   uint64 // error frames sent (bad requests, refusals, lost subscriptions)
	Published     uint64 // messages published over WebSocket
	Hub           HubStats
}

// Legacy is the reference service speaking the legacy protocol over a Hub.
// Mount Handler, or ServeHTTP at LegacyPath and PublishHandler beside it.
type Legacy struct {
	hub    *Hub
	limits Limits
	origin []string
	log    *slog.Logger
	faults *Faults

	mu       sync.Mutex
	conns    map[*legacyConn]struct{}
	draining bool
	wg       sync.WaitGroup // one per upgrade in progress or connection running

	accepted, slow, tooLarge, errFrames, published atomic.Uint64
}

// NewLegacy returns a legacy service on hub. It does not own the hub.
func NewLegacy(hub *Hub, opts LegacyOptions) (*Legacy, error) {
	if err := opts.Limits.Validate(); err != nil {
		return nil, err
	}
	if err := opts.Faults.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Legacy{
		hub:    hub,
		limits: opts.Limits.WithDefaults(),
		origin: opts.OriginPatterns,
		log:    log,
		faults: opts.Faults,
		conns:  make(map[*legacyConn]struct{}),
	}, nil
}

// Handler returns a mux with the WebSocket endpoint at LegacyPath and the
// publish API at PublishPath.
func (l *Legacy) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(LegacyPath, l)
	mux.Handle(PublishPath, PublishHandler(l.hub.Broker(), l.limits.MaxMessageBytes))
	return mux
}

// ServeHTTP upgrades the request and starts the connection. The connection
// runs on a goroutine of its own and ServeHTTP returns, so that the
// request, net/http's connection state and the handler's stack are not
// kept for the life of the connection.
func (l *Legacy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	if l.draining {
		l.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	held := false
	defer func() {
		if !held {
			l.wg.Done()
		}
	}()

	// Small hijack buffers (legacy frames are small; larger ones bypass
	// them); the write buffer holds a typical batch message whole. The
	// server greets first (welcome): the 101 goes out with it.
	hw := &wsconn.Response{ResponseWriter: w, Timeout: l.limits.WriteTimeout, WriteSize: 1024, HoldHeader: true}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{OriginPatterns: l.origin})
	if err != nil {
		l.log.Debug("legacy: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return // Accept has answered the request
	}
	c, err := newLegacyConn(l, ws)
	if err != nil {
		l.log.Error("legacy: new connection", "err", err)
		_ = ws.Close(websocket.StatusInternalError, "internal")
		return
	}

	l.mu.Lock()
	if l.draining { // Shutdown began during the upgrade
		l.mu.Unlock()
		_ = ws.Close(CloseShutdown, legacy.ReasonShutdown)
		return
	}
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	l.accepted.Add(1)

	held = true // l.wg's count passes to the connection's goroutine
	go func() {
		defer l.wg.Done()
		c.run()
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	}()
}

// Shutdown stops accepting connections and closes the open ones with 1001
// (going away), spread evenly over Limits.DrainPeriod (drain.Spread: at
// most half the time left before ctx's deadline) so that clients do not all
// reconnect in the same instant; each connection first flushes what it
// already queued. It returns when every connection has ended, or with ctx's
// error once ctx has ended: then the connections not closed yet are closed
// at once, those still open are cut, and it returns after they have ended.
func (l *Legacy) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.draining = true
	conns := make([]*legacyConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()

	return drain.Conns(ctx, l.limits.DrainPeriod, len(conns),
		func(i int) { conns[i].closeWith(CloseShutdown, legacy.ReasonShutdown, true) },
		func(i int) { _ = conns[i].ws.CloseNow() }, // unblocks its goroutines
		l.wg.Wait)
}

// Stats returns a snapshot of the counters.
func (l *Legacy) Stats() LegacyStats {
	l.mu.Lock()
	n := len(l.conns)
	l.mu.Unlock()
	return LegacyStats{
		Connections:   int64(n),
		Accepted:      l.accepted.Load(),
		SlowConsumers: l.slow.Load(),
		TooLarge:      l.tooLarge.Load(),
		ErrorFrames:   l.errFrames.Load(),
		Published:     l.published.Load(),
		Hub:           l.hub.Stats(),
	}
}
