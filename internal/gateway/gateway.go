// Package gateway is the core of Baton's gateway: it holds the client
// sessions, attaches each to the backend the router picks for its user,
// and moves them live between blue and green when the weight changes.
// The edge (client listeners) and the admin API sit on top of it:
//
//	edge:   s, err := g.Attach(ctx, gateway.Identity{User: u, Protocol: p}, sink)
//	        s.Subscribe / s.Unsubscribe / s.Publish / s.Request / s.Emit
//	        g.Detach(s) when the client has gone
//	admin:  g.SetWeight(ctx, w), g.Status(), g.SessionInfo(id)
//
// # Where a session goes
//
// A new session is attached to router.Backend(user), or to the other
// backend if that one cannot be dialed (availability first). SetWeight
// moves every session whose backend differs from what the new table says:
// exactly the users whose bucket the change crosses, plus any session left
// on the wrong side by an earlier failed move or a re-attach to the other
// backend. Between weight changes the gateway tries those again itself,
// after a backoff (retry.go). All sessions of one user follow the user.
//
// # When a backend connection drops
//
// The session is re-attached in the background (handover.Reattach: its
// routed backend first, then the other), with every subscription restored
// from the last delivered seq; the client notices nothing but a pause.
// Publishes and requests made meanwhile wait for the new attachment within
// their own context and Options.RequestTimeout. Those in flight on the
// dropped connection get an error, never a resend, except a subscribe,
// which is sent again on the new attachment (session.Subscribe), and an
// unsubscribe, which the re-attach applies by not restoring the channel.
// After ReattachAttempts failures the session is abandoned: its client is
// closed with ErrNoBackend. A connection that
// acknowledged a move's or a re-attach's subscribes and then stalled is
// closed by its session (session.ErrStalled) and handled as a drop that
// came soon after its attach (flap.go), counted in Status's Moves.Stalls.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
)

var (
	// ErrClosed: the gateway has been closed.
	ErrClosed = errors.New("gateway: closed")
	// ErrNoBackend closes a client whose session could not be re-attached
	// to either backend.
	ErrNoBackend = errors.New("gateway: no backend could take the session")
	// ErrDuplicateSession: Attach with an ID already in use.
	ErrDuplicateSession = errors.New("gateway: duplicate session id")
	// ErrPreempted: PrepareWeight stopped for a weight change that came
	// while it was dialing.
	ErrPreempted = errors.New("gateway: preparation stopped by a weight change")
	// ErrNotApplied: SetWeight gave up (its ctx ended) while it waited for
	// a weight change already under way, before applying its weight: the
	// weight in force is the one before, and nobody was moved.
	ErrNotApplied = errors.New("gateway: weight not applied")
)

// Defaults of Options.
const (
	DefaultReattachAttempts = 3
	DefaultReattachBackoff  = 200 * time.Millisecond
)

// Options configure a Gateway.
type Options struct {
	// Router decides where users go. Required.
	Router *router.Router
	// Blue and Green dial the two backends. Required.
	Blue, Green upstream.Dialer
	// Handover bounds one attach or move.
	Handover handover.Options
	// MovesPerSecond and Concurrency pace the moves of a weight change.
	// Zero means the config defaults.
	MovesPerSecond int
	Concurrency    int
	// MaxSubscriptions caps one session's channels. Zero means the config
	// default.
	MaxSubscriptions int
	// ReattachAttempts is how many rounds (preferred backend, then the
	// other) a dropped session gets before it is abandoned; ReattachBackoff
	// is the pause after the first failed round, doubled after each.
	// Zero means the defaults above.
	ReattachAttempts int
	ReattachBackoff  time.Duration
	// RequestTimeout bounds how long a client's request waits for its
	// session's new connection while the session re-attaches after a
	// drop, when the request's own context has no sooner deadline (a
	// publish sent without waiting has none: see
	// session.Options.RequestTimeout). Zero means
	// config.DefaultRequestTimeout, the edge's request timeout by default.
	RequestTimeout time.Duration
	// PrepareTTL is how long connections made by PrepareWeight wait for
	// the weight change that uses them before they are closed. Zero
	// means config.DefaultPrepareTTL.
	PrepareTTL time.Duration
	// RetryBackoff is how long after a weight change that left sessions
	// misplaced (failed moves) the gateway tries them again, doubled
	// after each try up to RetryMaxBackoff (retry.go). Zero means
	// config.DefaultRetryBackoff and config.DefaultRetryMaxBackoff.
	RetryBackoff, RetryMaxBackoff time.Duration
	// Logger receives session-level events; nil discards them.
	Logger *slog.Logger
}

// Identity is who a new session belongs to.
type Identity struct {
	// ID names the session; empty means a random one.
	ID string
	// User is the user key the router places the session by.
	User string
	// Protocol is the client's protocol.
	Protocol config.Protocol
}

// Gateway holds the sessions. All methods are safe for concurrent use.
type Gateway struct {
	opts     Options
	router   *router.Router
	backends [2]*backend // by router.Color
	pacer    *handover.Pacer
	counters session.Counters
	stats    stats
	pres     preservation // see preservation.go
	log      *slog.Logger

	ctx     context.Context // canceled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // re-attaches, standby releases
	retire  retirer        // retire.go
	standby atomic.Bool    // keep standbys (standby.go)

	weightLock chan struct{} // serializes SetWeight and PrepareWeight
	// prepared closes prepared connections left unused (prepare.go);
	// preparedPending says a preparation awaits its weight change. Under mu.
	prepared        *time.Timer
	preparedPending bool
	// preparedLate says the timer fired while a retry round held
	// weightLock. Under mu.
	preparedLate bool
	// changesWaiting counts the weight changes waiting for weightLock,
	// lockWaiting those and the preparations; preempt stops the
	// preparation holding it, if any (prepare.go). Under mu.
	changesWaiting int
	lockWaiting    int
	preempt        context.CancelCauseFunc
	// retry runs the retries of misplaced sessions (retry.go). Under mu.
	retry retrier

	// mu guards the registry and makes "change the table, then list the
	// sessions" atomic with respect to registering a session.
	mu       sync.Mutex
	sessions map[string]*session.Session
	// quickDrops counts, per session, its drops in a row that came soon
	// after its attach (flap.go). Under mu.
	quickDrops map[*session.Session]int
	closed     bool
}

// New returns a gateway.
func New(opts Options) (*Gateway, error) {
	switch {
	case opts.Router == nil:
		return nil, errors.New("gateway: Options.Router is required")
	case opts.Blue == nil || opts.Green == nil:
		return nil, errors.New("gateway: Options.Blue and Options.Green are required")
	}
	if opts.ReattachAttempts <= 0 {
		opts.ReattachAttempts = DefaultReattachAttempts
	}
	if opts.ReattachBackoff <= 0 {
		opts.ReattachBackoff = DefaultReattachBackoff
	}
	if opts.PrepareTTL <= 0 {
		opts.PrepareTTL = config.DefaultPrepareTTL
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = config.DefaultRetryBackoff
	}
	if opts.RetryMaxBackoff <= 0 {
		opts.RetryMaxBackoff = config.DefaultRetryMaxBackoff
	}
	opts.RetryMaxBackoff = max(opts.RetryMaxBackoff, opts.RetryBackoff)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{
		opts:       opts,
		router:     opts.Router,
		pacer:      handover.NewPacer(opts.MovesPerSecond, opts.Concurrency),
		log:        log,
		ctx:        ctx,
		cancel:     cancel,
		weightLock: make(chan struct{}, 1),
		sessions:   make(map[string]*session.Session),
	}
	g.retry.wake = make(chan struct{}, 1)
	if g.opts.Handover.Retire == nil {
		g.opts.Handover.Retire = g.retire.run
	}
	if g.opts.Handover.Standby == nil {
		g.opts.Handover.Standby = g.keepsStandby
	}
	g.backends[router.Blue] = &backend{Dialer: opts.Blue}
	g.backends[router.Green] = &backend{Dialer: opts.Green}
	return g, nil
}

// FromConfig builds a gateway from a configuration that has been through
// SetDefaults and Validate.
func FromConfig(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	blue, err := upstream.NewDialer(cfg.Backends.Blue, cfg.Edge.MaxMessageBytes)
	if err != nil {
		return nil, fmt.Errorf("backends.blue: %w", err)
	}
	green, err := upstream.NewDialer(cfg.Backends.Green, cfg.Edge.MaxMessageBytes)
	if err != nil {
		return nil, fmt.Errorf("backends.green: %w", err)
	}
	opts, err := ConfigOptions(cfg, blue, green, log)
	if err != nil {
		return nil, err
	}
	return New(opts)
}

// ConfigOptions are the options a configuration (through SetDefaults and
// Validate) gives a gateway that dials blue and green: the one place that
// reads the configuration's gateway settings, for FromConfig and for a
// caller that wraps the dialers.
func ConfigOptions(cfg *config.Config, blue, green upstream.Dialer, log *slog.Logger) (Options, error) {
	table, err := cfg.Routing.Table()
	if err != nil {
		return Options{}, fmt.Errorf("routing: %w", err)
	}
	return Options{
		Router:           router.New(table),
		Blue:             blue,
		Green:            green,
		Handover:         handover.Options{Timeout: cfg.Handover.Timeout, DrainTimeout: cfg.Handover.DrainTimeout},
		PrepareTTL:       cfg.Handover.PrepareTTL,
		RetryBackoff:     cfg.Handover.RetryBackoff,
		RetryMaxBackoff:  cfg.Handover.RetryMaxBackoff,
		MovesPerSecond:   cfg.Handover.MovesPerSecond,
		Concurrency:      cfg.Handover.Concurrency,
		MaxSubscriptions: cfg.Edge.MaxSubscriptions,
		Logger:           log,
	}, nil
}

// Router is the gateway's router.
func (g *Gateway) Router() *router.Router { return g.router }

// Counters are the message counters shared by all sessions.
func (g *Gateway) Counters() *session.Counters { return &g.counters }

func (g *Gateway) dialer(c router.Color) upstream.Dialer { return g.backends[c] }

// Attach creates a session for a new client and attaches it (see the
// package documentation for where). On error nothing is left behind.
func (g *Gateway) Attach(ctx context.Context, id Identity, sink session.Sink) (*session.Session, error) {
	s, err := session.New(session.Options{
		ID:               id.ID,
		User:             id.User,
		Protocol:         id.Protocol,
		Sink:             sink,
		MaxSubscriptions: g.opts.MaxSubscriptions,
		RequestTimeout:   g.opts.RequestTimeout,
		Counters:         &g.counters,
		OnDrop:           g.onDrop,
	})
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	switch {
	case g.closed:
		g.mu.Unlock()
		return nil, ErrClosed
	case g.sessions[s.ID()] != nil:
		g.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrDuplicateSession, s.ID())
	}
	g.sessions[s.ID()] = s
	g.mu.Unlock()

	// Reattach is "attach unless attached": a weight change that listed
	// the session meanwhile may have attached it already.
	table := g.router.Table()
	want := table.Backend(id.User)
	if _, err := handover.Reattach(ctx, s, want, g.dialer, g.opts.Handover); err != nil {
		g.forget(s)
		s.Close()
		if ctx.Err() == nil { // not the client giving up
			g.stats.attachFailed.Add(1)
		}
		return nil, err
	}
	// A weight change may have listed the sessions while this one was
	// still being dialed with the old table: put it where the table says
	// now.
	if now := g.router.Table(); now != table {
		if want = now.Backend(id.User); want != s.Color() {
			_, _ = g.move(ctx, s, want, slog.LevelWarn) // a failure is counted; the session stays served
		}
	}
	if want != s.Color() {
		g.noteMisplaced() // its own backend was down, or the move failed
	}
	return s, nil
}

// Detach ends a session whose client has gone.
func (g *Gateway) Detach(s *session.Session) {
	g.forget(s)
	s.Close()
}

func (g *Gateway) forget(s *session.Session) {
	g.mu.Lock()
	if g.sessions[s.ID()] == s {
		delete(g.sessions, s.ID())
	}
	delete(g.quickDrops, s)
	g.mu.Unlock()
}

// Session returns the session with the given id.
func (g *Gateway) Session(id string) (*session.Session, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.sessions[id]
	return s, ok
}

// SessionInfo returns a snapshot of the session with the given id.
func (g *Gateway) SessionInfo(id string) (session.Info, bool) {
	s, ok := g.Session(id)
	if !ok {
		return session.Info{}, false
	}
	return s.Info(), true
}

// Sessions returns the sessions held now.
func (g *Gateway) Sessions() []*session.Session {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*session.Session, 0, len(g.sessions))
	for _, s := range g.sessions {
		out = append(out, s)
	}
	return out
}

// SetWeight applies weight w and moves the sessions the change concerns,
// paced, returning when every move has ended: how many moved and how many
// failed (those stay where they were, untouched; the gateway tries them
// again after Options.RetryBackoff, and so does the next SetWeight).
// Concurrent calls run one after the other. When ctx ends the weight
// stays applied, the moves not started yet are skipped (and not retried
// before the next weight change) and ctx's error is returned with the
// counts so far; but when it ends while the call still waits for another
// change to end, w is not applied (ErrNotApplied).
func (g *Gateway) SetWeight(ctx context.Context, w router.Weight) (moved, failed int, err error) {
	return g.SetWeightPaced(ctx, w, 0)
}

// move moves s to backend to and counts the outcome, logging a failure at
// level failed. A session that ended meanwhile is neither moved nor
// failed.
func (g *Gateway) move(ctx context.Context, s *session.Session, to router.Color, failed slog.Level) (bool, error) {
	g.noteLasting(s)
	ok, err := handover.Move(ctx, s, to, g.dialer(to), g.opts.Handover)
	switch {
	case err != nil && s.Closed():
	case err != nil && ctx.Err() != nil:
		// The weight change was called off (its caller left, a pause, a
		// shutdown): the session stays where it was, as the moves not
		// started yet do; no backend failed.
		g.stats.movesCanceled.Add(1)
		g.log.Debug("gateway: move canceled", "session", s.ID(), "to", to, "err", err)
	case err != nil:
		g.stats.movesFailed.Add(1)
		g.log.Log(ctx, failed, "gateway: move failed", "session", s.ID(), "to", to, "err", err)
	case ok:
		g.stats.movesDone.Add(1)
	}
	return ok, err
}

// onDrop starts re-attaching a session whose backend connection ended; it
// runs on that connection's reading goroutine.
func (g *Gateway) onDrop(s *session.Session, cause error) {
	lived := s.AttachedFor()
	stalled := errors.Is(cause, session.ErrStalled)
	if stalled {
		// Never served what it announced: however long the watchdog
		// took to tell, a quick drop, so that a backend that keeps
		// stalling is left for the other (flap.go).
		lived = 0
	}
	g.mu.Lock()
	if g.closed || g.sessions[s.ID()] != s {
		g.mu.Unlock()
		return
	}
	quick := g.noteDropLocked(s, lived)
	table := g.router.Table() // under mu: a weight change lists the sessions under it too
	g.wg.Add(1)               // under mu: Close waits only after setting closed
	g.mu.Unlock()
	g.stats.drops.Add(1)
	if stalled {
		g.stats.stalls.Add(1)
	}
	go func() {
		defer g.wg.Done()
		g.reattach(s, cause, quick, table)
	}()
}

// reattach re-attaches s, whose connection dropped after quick drops in a
// row that came soon after their attach (flap.go), when the router's table
// was table.
func (g *Gateway) reattach(s *session.Session, cause error, quick int, table *router.Table) {
	g.log.Info("gateway: backend connection dropped, re-attaching", "session", s.ID(), "err", cause, "quick_drops", quick)
	backoff := g.opts.ReattachBackoff
	wait, otherFirst := g.flapPlan(quick)
	if otherFirst {
		g.log.Warn("gateway: backend keeps dropping the session soon after its attach, trying the other first",
			"session", s.ID(), "quick_drops", quick, "wait", wait)
	}
	if wait > 0 && !g.pause(s, wait) {
		return
	}
	var err error
	for attempt := range g.opts.ReattachAttempts {
		if attempt > 0 {
			if !g.pause(s, backoff) {
				return
			}
			backoff *= 2
		}
		var to router.Color
		now := g.router.Table()
		prefer := now.Backend(s.User())
		if otherFirst && now != table {
			// A weight change came since the drop. It did not list
			// the session, whose dead connection is on the backend it
			// routes to; it places it all the same, as it would after
			// the re-attach.
			otherFirst = false
		}
		if otherFirst {
			prefer = prefer.Other()
		}
		to, err = handover.Reattach(g.ctx, s, prefer, g.dialer, g.opts.Handover)
		if err == nil {
			g.stats.reattached.Add(1)
			g.log.Info("gateway: re-attached", "session", s.ID(), "backend", to)
			if to != g.router.Table().Backend(s.User()) {
				g.noteMisplaced()
			}
			return
		}
		if s.Closed() || g.ctx.Err() != nil {
			return
		}
	}
	g.stats.reattachFailed.Add(1)
	g.log.Warn("gateway: abandoning session", "session", s.ID(), "err", err)
	g.forget(s)
	s.Abandon(fmt.Errorf("%w: %w", ErrNoBackend, err))
}

// closeWorkers bounds the sessions Close ends at once: ending one can wait
// for its backend to answer the close (a backend that froze never does,
// and the wait is bounded per connection), so they end side by side.
const closeWorkers = 256

// abandonAll ends every session of sessions with ErrClosed.
func abandonAll(sessions map[string]*session.Session) {
	todo := make(chan *session.Session)
	var wg sync.WaitGroup
	for range min(closeWorkers, len(sessions)) {
		wg.Go(func() {
			for s := range todo {
				s.Abandon(ErrClosed)
			}
		})
	}
	for _, s := range sessions {
		todo <- s
	}
	close(todo)
	wg.Wait()
}

// pause waits d before a re-attach of s, and reports false if the
// gateway closed or the session ended meanwhile: a client gone leaves no
// re-attach waiting for it.
func (g *Gateway) pause(s *session.Session, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-g.ctx.Done():
	case <-s.Done():
	}
	return false
}

// Close closes every session (their clients with ErrClosed) and waits for
// them and the background re-attaches, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	sessions := g.sessions
	g.sessions = make(map[string]*session.Session)
	if g.prepared != nil {
		g.prepared.Stop()
	}
	g.mu.Unlock()
	g.cancel()
	done := make(chan struct{})
	go func() {
		abandonAll(sessions)
		g.retire.close()
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
