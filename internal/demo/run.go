package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/baton-rt/baton/internal/app"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sleep"
)

// statusEvery is the period of the status line.
const statusEvery = time.Second

// Run runs one demo and returns its report. An error means the demo could
// not run (a port, a client that could not connect) or ctx ended before the
// report; a rollout that rolled back, or a broken guarantee, is in the
// report (Report.ExitCode).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pr := newProgress(cfg.Out, cfg.TTY, start)

	be, err := startBackends(cfg.Fault.serviceFaults(), log)
	if err != nil {
		return nil, err
	}
	defer be.close(context.Background())

	a, err := buildApp(ctx, &cfg, be, log)
	if err != nil {
		return nil, err
	}
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(serveCtx) }()
	defer func() {
		stopServe()
		<-served
	}()
	ep := Endpoints{Edge: a.EdgeAddr(), Admin: a.AdminAddr(), Token: a.Token(), Blue: be.BlueURL(), Green: be.GreenURL()}
	pr.linef("blue (legacy) %s, green (Socket.IO) %s, gateway ws://%s/ws and http://%s/socket.io/, admin http://%s",
		ep.Blue, ep.Green, ep.Edge, ep.Edge, ep.Admin)
	if cfg.Fault.Kind != FaultNone {
		pr.linef("fault injected into green: %s", cfg.Fault)
	}
	if cfg.Ready != nil {
		cfg.Ready(ep)
	}

	gw := a.Gateway()
	channels := channelNames(cfg.Channels)
	fl := newFleet(cfg.Clients, cfg.PerClient, channels, func(user string) string { return gw.Router().Backend(user).String() })
	defer fl.close()
	lastShown := time.Now()
	err = fl.dial(ctx, ep.Edge, func(done int) {
		if done == cfg.Clients || time.Since(lastShown) >= statusEvery {
			lastShown = time.Now()
			pr.statusf("connecting clients: %d / %d", done, cfg.Clients)
		}
	})
	pr.done()
	if err != nil {
		return nil, err
	}
	pr.linef("%d clients connected (%d legacy, %d Socket.IO), each on %d of %d channels",
		cfg.Clients, (cfg.Clients+1)/2, cfg.Clients/2, min(cfg.PerClient, cfg.Channels), cfg.Channels)

	traffic, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	pub := newPublisher(be.broker, channels, cfg.Rate)
	pubCtx, stopPub := context.WithCancel(traffic)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.run(pubCtx) }()
	fl.startRequests(traffic, cfg.RequestEvery)
	pr.linef("publishing %.0f msg/s over %d channels; every client makes a request every %s", cfg.Rate, cfg.Channels, cfg.RequestEvery)
	if sleep.For(ctx, cfg.Warmup) != nil {
		stopPub()
		return nil, ctx.Err()
	}
	fl.measure(time.Now())

	rolloutStart := time.Now()
	final, err := drive(ctx, &cfg, a, be, fl, pr)
	rolloutTook := time.Since(rolloutStart)
	pr.done()
	if err != nil {
		stopPub()
		return nil, err
	}
	_ = sleep.For(ctx, cfg.Settle)

	stopPub()
	<-pubDone
	end := time.Now()
	last := pub.lastSeqs()
	deadline := time.Now().Add(cfg.CatchUp)
	for !fl.caughtUp(last) && time.Now().Before(deadline) && sleep.For(ctx, 20*time.Millisecond) == nil {
	}
	stopTraffic()
	if ctx.Err() != nil {
		// The clients did not get their time to catch up: what they miss
		// is on its way, not lost, and no verdict can be drawn.
		return nil, fmt.Errorf("demo: interrupted after the rollout: %w", ctx.Err())
	}

	r := makeReport(&cfg, final, gw.Status(), fl.tally(last, end), fl.lat.summary(), pub)
	r.CadenceMs = float64(fl.cadence) / cfg.Rate * 1000
	r.RolloutSeconds = seconds(rolloutTook)
	r.TotalSeconds = seconds(time.Since(start))
	if cfg.OnReport != nil {
		cfg.OnReport(r)
	}
	if cfg.KeepRunning && ctx.Err() == nil {
		keepRunning(ctx, &cfg, ep, fl, pub, pr)
	}
	return r, nil
}

// buildApp assembles the gateway: the configuration a demo needs, on
// loopback ports of its own.
func buildApp(ctx context.Context, cfg *Config, be *backends, log *slog.Logger) (*app.App, error) {
	edgeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = edgeLn.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	c := &config.Config{
		Listen: edgeLn.Addr().String(),
		Admin:  config.Admin{Listen: adminLn.Addr().String(), Token: rand.Text()},
		Backends: config.Backends{
			// The gateway refuses a client's frame the services would
			// end its session's connection on.
			Blue:  config.Backend{URL: be.BlueURL(), Protocol: config.ProtocolLegacy, MaxMessageBytes: be.maxMessage},
			Green: config.Backend{URL: be.GreenURL(), Protocol: config.ProtocolSocketIO, MaxMessageBytes: be.maxMessage},
		},
		// A gate reads its step's samples, at most one window: the window
		// spans a step's hold and extensions, so that they accumulate.
		Health: config.Health{Window: gateWindow, Probe: config.Probe{Interval: 20 * time.Millisecond}},
		Rollout: config.Rollout{
			MinSamples:    gateMinSamples,
			MaxExtensions: gateExtensions,
			// Holds are short and fleets small, so the relative gates get
			// margins that a few hundred samples can prove and that the
			// noise of a busy two-core machine stays under; the absolute
			// gates (1 % errors, P95 500 ms) are the production ones.
			NonInferiority: config.NonInferiority{ErrorRateMargin: 0.03, LatencyMargin: 200 * time.Millisecond},
			Store:          config.Store{Kind: config.StoreMemory},
		},
		Log: config.Log{Level: "warn"},
	}
	a, err := app.Build(ctx, c, app.Options{
		Logger:        log,
		TestMode:      true,
		TestHold:      cfg.Hold,
		EdgeListener:  edgeLn,
		AdminListener: adminLn,
		// The faults are green's replies to requests, which the probes'
		// delivery latency would not show.
		GateOnRequests:  true,
		DrainPeriod:     200 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
	})
	if err != nil {
		_ = edgeLn.Close()
		_ = adminLn.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	return a, nil
}

// finalGrace bounds the wait for the rollout's last event once Status
// already shows the end. The controller updates Status before it hands the
// events of the same transition to subscribers, so the event is normally a
// moment behind; the bound only matters if it was dropped (a full buffer).
const finalGrace = 2 * time.Second

// isFinal reports whether ev is the last event of a rollout: the one
// committed with its terminal phase, after any other event of that commit.
func isFinal(ev rollout.Event) bool {
	switch ev.Kind {
	case rollout.EventCompleted, rollout.EventRollbackFinished, rollout.EventAborted:
		return true
	}
	return false
}

// drive runs the rollout until it ends, printing its events and the
// status, and crashes green when the fault says so. It returns the final
// state.
//
// The end is the final event, not Status: Status shows the terminal phase
// before the subscriber receives that transition's events, so ending on
// Status would leave the last event (rollback_finished, rollout_completed)
// unprinted. Once Status shows the end, drive waits finalGrace at most for
// the event.
func drive(ctx context.Context, cfg *Config, a *app.App, be *backends, fl *fleet, pr *progress) (rollout.State, error) {
	ctrl := a.Controller()
	sub := ctrl.Subscribe(256)
	defer sub.Close()
	if _, err := ctrl.Start(ctx, nil); err != nil {
		return rollout.State{}, fmt.Errorf("demo: start the rollout: %w", err)
	}
	timeout := time.NewTimer(cfg.Timeout)
	defer timeout.Stop()
	tick := time.NewTicker(statusEvery)
	defer tick.Stop()
	var grace <-chan time.Time // set once Status shows the end
	ended := func(st rollout.State) {
		if grace == nil && !st.Phase.Active() && st.Phase != rollout.Idle {
			grace = time.After(finalGrace) // collected once unreferenced
		}
	}
	crashed := false
	crash := func(st rollout.State) {
		if cfg.Fault.Kind == FaultCrash && !crashed && st.Phase == rollout.Shifting && st.Applied && st.Weight.Percent() >= cfg.Fault.CrashAt {
			crashed = true
			be.CrashGreen()
			pr.linef("FAULT: green crashed at weight %s (listener and every connection closed abruptly)", st.Weight)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctrl.Status(), fmt.Errorf("demo: interrupted during the rollout: %w", ctx.Err())
		case <-timeout.C:
			st := ctrl.Status()
			pr.linef("the rollout is still %s after %s: giving up", st.Phase, cfg.Timeout)
			return st, nil
		case <-grace:
			st := ctrl.Status()
			pr.linef("the rollout is %s but its last event did not arrive (%d events dropped)", st.Phase, sub.Dropped())
			return st, nil
		case <-tick.C:
			st := ctrl.Status()
			crash(st)
			ended(st)
			pr.statusf("%s", statusLine(a, fl, st))
		case ev, ok := <-sub.C():
			if !ok {
				return ctrl.Status(), errors.New("demo: the controller closed")
			}
			if ev.Kind != rollout.EventVerdict { // the next event tells it
				pr.linef("%s", eventLine(ev))
			}
			st := ctrl.Status()
			if isFinal(ev) {
				return st, nil
			}
			crash(st)
			ended(st)
		}
	}
}

// statusLine is the compact status: weight, sessions, and what the gates
// read per backend.
func statusLine(a *app.App, fl *fleet, st rollout.State) string {
	gs := a.Gateway().Status()
	b, g := a.Monitor().Summary(router.Blue), a.Monitor().Summary(router.Green)
	return fmt.Sprintf("%-12s weight %-5s sessions blue %d green %d | errors blue %.2f%% green %.2f%% | P95 blue %s green %s | delivered %d",
		st.Phase, gs.Weight, gs.Sessions.Blue, gs.Sessions.Green,
		100*b.ErrorRate, 100*g.ErrorRate,
		shortDur(b.Latency[health.RequestAck].P95), shortDur(g.Latency[health.RequestAck].P95),
		fl.delivered.Load())
}

// eventLine renders one controller event.
func eventLine(ev rollout.Event) string {
	s := fmt.Sprintf("%-18s %s → %s", ev.Kind, ev.From, ev.To)
	if ev.Step > 0 {
		s += fmt.Sprintf("  step %d weight %s", ev.Step, ev.Weight)
	}
	if ev.Moved > 0 || ev.Failed > 0 {
		s += fmt.Sprintf("  moved %d failed %d in %s", ev.Moved, ev.Failed, shortDur(time.Duration(ev.Took)))
	}
	if ev.Verdict != nil {
		s += fmt.Sprintf("  verdict %s", ev.Verdict.Outcome)
	}
	if ev.Message != "" {
		s += "  " + ev.Message
	}
	return s
}

func shortDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// makeReport puts the figures together and checks the guarantees.
func makeReport(cfg *Config, st rollout.State, gs gateway.Status, t tally, lat map[string]BackendLatency, pub *publisher) *Report {
	r := &Report{
		Fault:           cfg.Fault.String(),
		Reason:          st.Reason,
		Clients:         t.Clients,
		LegacyClients:   t.Legacy,
		SocketIOClients: t.SocketIO,
		Channels:        cfg.Channels,
		Rate:            cfg.Rate,
		Sessions:        Preserved{Kept: t.SessionsKept, Total: t.Clients},
		Subscriptions:   Preserved{Kept: t.SubsKept, Total: t.Subscriptions},
		Reconnects:      t.Disconnects,
		Disconnects:     t.FirstErrors,
		Messages: MessageStats{
			Published: pub.sent.Load(), Delivered: t.Delivered, Lost: t.Lost,
			Duplicated: t.Duplicates, OutOfOrder: t.OutOfOrder, Stray: t.Stray,
		},
		Backends:     lat,
		MaxPauseMs:   float64(t.MaxPause.Microseconds()) / 1000,
		MaxPauseUser: t.MaxPauseUser,
		Final:        Placement{Blue: gs.Sessions.Blue, Green: gs.Sessions.Green, Detached: gs.Sessions.Detached},
		Moves: Moves{
			Done: gs.Moves.Done, Failed: gs.Moves.Failed, Drops: gs.Moves.Drops,
			Reattached: gs.Moves.Reattached, ReattachFailed: gs.Moves.ReattachFailed,
		},
	}
	switch st.Phase {
	case rollout.Completed:
		r.Outcome = OutcomeCompleted
	case rollout.RolledBack:
		r.Outcome = OutcomeRolledBack
	case rollout.Aborted:
		r.Outcome = OutcomeAborted
	default:
		r.Outcome = OutcomeTimedOut
	}
	for _, l := range lat {
		r.Requests.Total += l.Requests
		r.Requests.Errors += l.Errors
	}
	if r.Requests.Total > 0 {
		r.Requests.ErrorRate = float64(r.Requests.Errors) / float64(r.Requests.Total)
	}
	for _, s := range st.Steps {
		sr := StepReport{Weight: s.Weight.Percent(), Outcome: string(s.Outcome), Moved: s.Moved, Failed: s.Failed}
		if !s.EndedAt.IsZero() {
			sr.Seconds = seconds(s.EndedAt.Sub(s.StartedAt))
		}
		r.Steps = append(r.Steps, sr)
	}
	r.check()
	return r
}

// keepRunning leaves the demo up, traffic included, until ctx ends.
func keepRunning(ctx context.Context, cfg *Config, ep Endpoints, fl *fleet, pub *publisher, pr *progress) {
	pr.linef("still running: admin API http://%s (token %s), dashboard %s; try `baton rollout status --admin http://%s --token %s`. Ctrl-C stops.",
		ep.Admin, ep.Token, ep.DashboardURL(), ep.Admin, ep.Token)
	traffic, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() { defer close(done); pub.run(traffic) }()
	fl.startRequests(traffic, cfg.RequestEvery)
	<-ctx.Done()
	stop()
	<-done
}
