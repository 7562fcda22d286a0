// Package app assembles the gateway process: the gateway core with health
// instrumentation, the edge, the admin API with the rollout endpoints and
// metrics, the rollout controller with its store and alerts, and the
// synthetic probers. `baton gateway` and `baton demo` both run an App.
//
//	a, err := app.Build(ctx, cfg, app.Options{Logger: log})
//	if err != nil { ... }
//	// a.EdgeAddr(), a.AdminAddr(), a.Gateway(), a.Controller() are ready here
//	err = a.Serve(ctx) // until ctx ends, then a graceful drain
//
// # Wiring
//
// Each backend's dialer is wrapped twice: upstream.Inject (faults asked for
// by Options, for tests and the demo; nothing otherwise) under
// upstream.Observe, which records every dial and operation of the client
// sessions into that backend's health.Recorder. The probe sessions dial the
// injected dialer without the observer, since the health.Prober counts its
// own probes (an observed probe would count twice). The sessions gauge of
// each recorder is set from the gateway's Status at every health tick.
//
// The rollout controller shifts through the gateway's SetWeightPaced (also
// for weights set through the admin API), so that every move of a weight
// change counts in the preservation gates. Its gates compare green with
// blue on probe delivery latency when the probes run (they have data with
// or without users), on request→ack latency otherwise (or when
// Options.GateOnRequests asks for it).
//
// # Several gateways
//
// With a Redis store, the gateway that holds the store's lease runs the
// controller; another, with rollout.store.when_held: follow, runs a
// follower instead (follow.go) until it takes the store, and a holder
// that loses the store to another follows it in turn (takeover.go). The
// admin API's rollout is the role (role.go), which answers for whichever
// runs. Every gateway on
// the store shares its health seconds and move counters through Redis
// once a second (exchange.go); the one running the controller imports the
// others', so that its gates judge every gateway's traffic. The holder's
// weight changes wait for the followers' moves, and its emergency
// rollbacks reach them ahead of the stored state (stepsync.go).
//
// # Shutdown
//
// When Serve's context ends: the controller stops where it stands (its
// stored state lets the next process resume), the admin API closes its
// event streams and stops, the edge stops accepting and closes its clients
// with 1001 spread over the drain period, the probers and health ticks
// stop, the gateway closes, pending alerts get a last chance, and the store
// closes.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/alert"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/redisstore"
	"github.com/baton-rt/baton/internal/upstream"
)

// ErrServed: Serve was called twice, or after Close.
var ErrServed = errors.New("app: already served or closed")

// Defaults of Options.
const (
	// DefaultShutdownTimeout bounds the whole drain after Serve's context
	// ends, on top of the drain period.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultGreenCheckTimeout bounds the controller's green check (dial
	// and one probe delivered).
	DefaultGreenCheckTimeout = 5 * time.Second
	// DefaultIdleTimeout closes a keep-alive HTTP connection (admin
	// calls, Engine.IO long-polling) idle that long: a peer that vanished
	// without a FIN would hold it, and a goroutine, for good.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultReadTimeout bounds reading a request to the edge or the
	// admin API, its headers and its body: a client that announces a body
	// and never sends it would otherwise hold its connection, and a
	// goroutine, for good, even where the handler does not read the body
	// (net/http reads it before answering, to reuse the connection).
	// net/http lifts the deadline once the body is read and when a
	// WebSocket takes the connection, so it bounds nothing else; an
	// Engine.IO POST sets its own.
	DefaultReadTimeout = 10 * time.Second
)

// Options tune an App beyond its configuration. The zero value is the
// production setting.
type Options struct {
	// Logger receives the process log. Nil discards it.
	Logger *slog.Logger
	// TestMode shortens every rollout hold to TestHold (zero: the rollout
	// package's 100 ms); nothing else changes.
	TestMode bool
	TestHold time.Duration
	// Registry receives the admin API's Prometheus collector and is what
	// GET /metrics exposes. Nil means a registry of the App's own, which
	// also holds the Go runtime and process collectors; an injected one
	// gets the gateway's collector only (the caller adds the others).
	Registry *prometheus.Registry
	// Store, when set, replaces the store the configuration names
	// (cfg.Rollout.Store); the caller keeps it and closes it.
	Store store.Store
	// EdgeListener and AdminListener, when set, are used instead of
	// listening on cfg.Listen and cfg.Admin.Listen. The App closes them.
	EdgeListener, AdminListener net.Listener
	// BlueFaults and GreenFaults are injected into every connection to
	// that backend (tests and `baton demo --fault`); zero adds nothing.
	BlueFaults, GreenFaults upstream.Faults
	// GateOnRequests makes the gates compare request→ack latency even when
	// the probes run (they compare probe delivery otherwise).
	GateOnRequests bool
	// DrainPeriod spreads the client closes of the shutdown. Zero means
	// edge.DefaultDrainPeriod.
	DrainPeriod time.Duration
	// ShutdownTimeout bounds the drain on top of DrainPeriod, and then
	// again the closing of what is left (the gateway's backend
	// connections, pending alerts, the store). Zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// GreenCheckTimeout bounds the green check before the first step.
	// Zero means DefaultGreenCheckTimeout.
	GreenCheckTimeout time.Duration
	// IdleTimeout closes the edge's and the admin API's keep-alive HTTP
	// connections idle that long (WebSockets are not concerned). Zero
	// means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// ReadTimeout bounds reading a request to the edge or the admin API,
	// headers and body. Zero means DefaultReadTimeout.
	ReadTimeout time.Duration
}

// App is one gateway process. Build it, then Serve it (or Close it).
type App struct {
	cfg  config.Config
	opts Options
	log  *slog.Logger

	monitor    *health.Monitor
	probeDial  [2]upstream.Dialer // injected, not observed, noted in the gateway's status: the probes' own
	gw         *gateway.Gateway
	edge       *edge.Server
	admin      *admin.Server
	reg        *prometheus.Registry
	st         store.Store
	ownStore   bool
	redis      *redis.Client     // the Redis store's connection; nil for other kinds
	rstore     *redisstore.Store // a.st when it is the Redis store; nil otherwise
	leaseMu    sync.Mutex
	lease      *redisstore.Lease // the Redis store's lease; nil for other kinds and followers
	exch       *exchange         // the health exchange of a Redis store (exchange.go); nil for other kinds
	dispatcher *alert.Dispatcher
	role       role // the rollout controller, or the follower's view
	probers    []*health.Prober
	edgeLn     net.Listener
	adminLn    net.Listener

	served atomic.Bool // Serve was called, or Close
	closed atomic.Bool // release ran
}

// Build assembles the App from cfg (SetDefaults and Validate are applied
// to a copy; cfg is not modified) and opens its listeners, so the addresses
// are known before Serve. A rollout stored as active resumes at once, at
// its stored step. On error everything opened is closed again.
func Build(ctx context.Context, cfg *config.Config, opts Options) (_ *App, err error) {
	c := *cfg
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	def(&opts.DrainPeriod, edge.DefaultDrainPeriod)
	def(&opts.ShutdownTimeout, DefaultShutdownTimeout)
	def(&opts.GreenCheckTimeout, DefaultGreenCheckTimeout)
	def(&opts.IdleTimeout, DefaultIdleTimeout)
	def(&opts.ReadTimeout, DefaultReadTimeout)
	// a, not a named result: a failed Build returns nil, and the deferred
	// release still needs the App.
	a := &App{cfg: c, opts: opts, log: opts.Logger, reg: opts.Registry}
	if a.reg == nil {
		a.reg = prometheus.NewRegistry()
		a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	defer func() {
		if err != nil {
			a.release(context.Background())
		}
	}()

	if a.monitor, err = health.New(health.Config{Window: c.Health.Window}); err != nil {
		return nil, fmt.Errorf("app: health: %w", err)
	}
	if err := a.buildGateway(); err != nil {
		return nil, err
	}
	if err := a.buildProbers(); err != nil {
		return nil, err
	}
	if a.edge, err = edge.New(edge.Options{
		Gateway: a.gw, Identity: c.Identity, Edge: c.Edge, DrainPeriod: opts.DrainPeriod, Logger: a.log,
	}); err != nil {
		return nil, fmt.Errorf("app: edge: %w", err)
	}
	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	if a.dispatcher, err = alert.New(c.Rollout.Alerts, alert.Options{Logger: a.log}); err != nil {
		return nil, fmt.Errorf("app: alerts: %w", err)
	}
	if err := a.reg.Register(alertCollector{a.dispatcher}); err != nil {
		return nil, fmt.Errorf("app: alerts metrics: %w", err)
	}
	if c.Rollout.Store.Kind == config.StoreRedis && opts.Store == nil {
		if err := a.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "baton_rollout_store_holder",
			Help: "1 while this gateway holds the Redis rollout.store and runs the rollout, 0 while it follows another's.",
		}, func() float64 {
			if a.role.controller() != nil {
				return 1
			}
			return 0
		})); err != nil {
			return nil, fmt.Errorf("app: store metrics: %w", err)
		}
	}
	if a.exch != nil {
		a.role.synced = a.newSyncedShifter()
	}
	if a.role.follower() == nil { // a follower starts the controller once it holds the store
		ctrl, err := rollout.New(ctx, a.controllerOptions(a.heldLease()))
		if err != nil {
			return nil, fmt.Errorf("app: rollout: %w", err)
		}
		a.role.ctrl.Store(ctrl)
	}
	if a.admin, err = admin.New(admin.Options{
		Gateway:   shifter{a.gw},
		Token:     c.Admin.BearerToken(),
		Extra:     func() any { return a.edge.Stats() },
		EdgeStats: a.edge.Stats,
		Rollout:   &a.role,
		StoreRole: a.storeRole,
		Health:    adminHealth{a},
		Registry:  a.reg,
		Logger:    a.log,
	}); err != nil {
		return nil, fmt.Errorf("app: admin: %w", err)
	}
	if err := a.listen(); err != nil {
		return nil, err
	}
	return a, nil
}

func def[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// buildGateway is gateway.FromConfig with the dialers wrapped.
func (a *App) buildGateway() error {
	c := &a.cfg
	var dialers [2]upstream.Dialer
	for _, b := range []struct {
		color  router.Color
		cfg    config.Backend
		faults upstream.Faults
	}{
		{router.Blue, c.Backends.Blue, a.opts.BlueFaults},
		{router.Green, c.Backends.Green, a.opts.GreenFaults},
	} {
		d, err := upstream.NewDialer(b.cfg, c.Edge.MaxMessageBytes)
		if err != nil {
			return fmt.Errorf("app: backends.%s: %w", b.color, err)
		}
		a.probeDial[b.color] = upstream.Inject(d, b.faults)
		dialers[b.color] = upstream.Observe(a.probeDial[b.color], a.monitor.Backend(b.color))
	}
	opts, err := gateway.ConfigOptions(c, dialers[router.Blue], dialers[router.Green], a.log)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if a.gw, err = gateway.New(opts); err != nil {
		return fmt.Errorf("app: gateway: %w", err)
	}
	for _, c := range []router.Color{router.Blue, router.Green} {
		a.probeDial[c] = a.gw.StatusDialer(c, a.probeDial[c])
	}
	return nil
}

// maxMinSamples bounds rollout.min_samples when the gates read the
// probe's latencies: it gives only so many per window.
func (a *App) maxMinSamples() int {
	if a.gateKind() != health.ProbeDelivery {
		return 0
	}
	return a.cfg.ProbeSamplesPerWindow()
}

// probeInterval is the probe's period when the gates read its latencies,
// 0 otherwise: it bounds rollout.min_samples by what a step can gather.
func (a *App) probeInterval() time.Duration {
	if a.gateKind() != health.ProbeDelivery {
		return 0
	}
	return a.cfg.Health.Probe.Interval
}

// gateKind is the latency the gates compare (see the package comment).
func (a *App) gateKind() health.Kind {
	if a.cfg.Health.Probe.Disabled || a.opts.GateOnRequests {
		return health.RequestAck
	}
	return health.ProbeDelivery
}

// preservation feeds the gates the counters of every gateway on the
// store: this one's, and the latest the others shared (exchange.go).
func (a *App) preservation() rollout.Preservation {
	p := a.ownPreservation()
	if a.exch != nil {
		p = add(p, a.exch.total(time.Now()))
	}
	return p
}

// ownPreservation is this gateway's counters.
func (a *App) ownPreservation() rollout.Preservation {
	p := a.gw.Preservation()
	return rollout.Preservation{
		MovesTried: p.MovesTried, SocketsKept: p.SocketsKept,
		SubscriptionsTried: p.SubscriptionsTried, SubscriptionsKept: p.SubscriptionsKept,
	}
}

// listen opens the edge and admin listeners unless Options gave them.
func (a *App) listen() error {
	a.edgeLn, a.adminLn = a.opts.EdgeListener, a.opts.AdminListener
	a.opts.EdgeListener, a.opts.AdminListener = nil, nil // owned by a from here
	var err error
	if a.edgeLn == nil {
		if a.edgeLn, err = net.Listen("tcp", a.cfg.Listen); err != nil {
			return fmt.Errorf("app: listen: %w", err)
		}
	}
	if a.adminLn == nil {
		if a.adminLn, err = net.Listen("tcp", a.cfg.Admin.Listen); err != nil {
			return fmt.Errorf("app: admin.listen: %w", err)
		}
	}
	return nil
}

// EdgeAddr is the address clients connect to (host:port): legacy
// WebSocket at ws://EdgeAddr/ws, Socket.IO at http://EdgeAddr/socket.io/.
func (a *App) EdgeAddr() string { return a.edgeLn.Addr().String() }

// AdminAddr is the admin API's address (host:port): http://AdminAddr/api/v1/...
func (a *App) AdminAddr() string { return a.adminLn.Addr().String() }

// Token is the admin API's bearer token.
func (a *App) Token() string { return a.cfg.Admin.BearerToken() }

// Config is the configuration in use, defaults applied.
func (a *App) Config() *config.Config { return &a.cfg }

// Gateway is the gateway core (sessions, weights, Status, Preservation).
func (a *App) Gateway() *gateway.Gateway { return a.gw }

// Controller is the rollout controller (Start, Status, Subscribe, ...).
// It is nil on a follower (rollout.store.when_held: follow) until it takes
// the store.
func (a *App) Controller() *rollout.Controller { return a.role.controller() }

// controllerOptions are the rollout controller's, from the App's parts.
// With the Redis store's lease l, the controller's state writes are
// fenced by it: once another gateway holds the store, they fail (and l is
// lost, which demotes this gateway) instead of overwriting what the new
// holder loaded.
func (a *App) controllerOptions(l *redisstore.Lease) rollout.Options {
	o := rollout.Options{
		Plan:          a.cfg.Rollout,
		Shifter:       a.controllerShifter(),
		Health:        rollout.NewMonitorHealth(a.monitor, a.gateKind(), a.preservation),
		Prober:        rollout.ProberFunc(a.checkBackend),
		Store:         a.st,
		Notifier:      a.dispatcher,
		Logger:        a.log,
		TestMode:      a.opts.TestMode,
		TestHold:      a.opts.TestHold,
		MaxMinSamples: a.maxMinSamples(),
		ProbeInterval: a.probeInterval(),
	}
	if l != nil {
		o.Store = l.Fenced()
	}
	if a.exch != nil {
		o.OnEmergency = a.noticeEmergency
	}
	return o
}

// Monitor is the per-backend health.
func (a *App) Monitor() *health.Monitor { return a.monitor }

// Edge is the client-facing server (Stats).
func (a *App) Edge() *edge.Server { return a.edge }

// Admin is the admin API handler.
func (a *App) Admin() *admin.Server { return a.admin }

// Registry is the Prometheus registry GET /metrics exposes.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Alerts are the alert dispatcher's delivery counters.
func (a *App) Alerts() alert.Stats { return a.dispatcher.Stats() }

// Close releases an App that was built but not served (Serve releases
// everything itself when it returns). It is a no-op after Serve.
func (a *App) Close() error {
	if !a.served.CompareAndSwap(false, true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.ShutdownTimeout)
	defer cancel()
	return a.release(ctx)
}
