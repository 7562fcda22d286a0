package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/drain"
	"github.com/baton-rt/baton/internal/router"
)

// healthTick is the period of the sessions gauge and the health time
// series (one point per tick).
const healthTick = time.Second

// Serve runs the edge and admin listeners, the health ticks and the probers
// until ctx ends or a listener fails, then drains (see the package
// comment) and returns: nil after ctx's end, the listener's error
// otherwise. It can be called once.
func (a *App) Serve(ctx context.Context) error {
	if !a.served.CompareAndSwap(false, true) {
		return ErrServed
	}

	errLog := slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)
	var fresh drain.Fresh
	edgeSrv := &http.Server{
		Handler: a.edge, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: a.opts.ReadTimeout, IdleTimeout: a.opts.IdleTimeout, ErrorLog: errLog,
		MaxHeaderBytes: a.cfg.Edge.MaxHeaderBytes,
		ConnState:      fresh.Track,
	}
	// Admin requests end with the process: the shutdown cancels them, so
	// a weight change still moving sessions stops (its weight stays, it
	// answers) instead of holding the drain while the edge takes clients.
	adminCtx, cancelAdmin := context.WithCancel(context.Background())
	defer cancelAdmin()
	adminSrv := &http.Server{
		Handler: a.admin, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: a.opts.ReadTimeout, IdleTimeout: a.opts.IdleTimeout, ErrorLog: errLog,
		BaseContext: func(net.Listener) context.Context { return adminCtx },
	}
	errc := make(chan error, 2)
	var servers sync.WaitGroup
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{edgeSrv, a.edgeLn}, {adminSrv, a.adminLn}} {
		servers.Add(1)
		go func() {
			defer servers.Done()
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}

	bg, stopBG := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	workers.Go(func() { a.tickHealth(bg) })
	if a.exch != nil {
		workers.Go(func() { a.exch.run(bg) })
	}
	for _, p := range a.probers {
		workers.Go(func() { _ = p.Run(bg) })
	}
	workers.Go(func() {
		cctx, cancel := context.WithTimeout(bg, a.opts.GreenCheckTimeout)
		defer cancel()
		a.gw.Check(cctx)
		st := a.gw.Status().Backends
		a.log.Info("backends checked", "blue_up", st.Blue.Up, "green_up", st.Green.Up)
	})

	// The store's lease, held from the start or taken by a follower: lost
	// to another gateway, it ends Serve, unless this gateway is to follow
	// (holdOrFollow).
	leaseLost := make(chan error, 1)
	followCtx, stopFollowing := context.WithCancel(context.Background())
	defer stopFollowing()
	var following sync.WaitGroup
	if a.heldLease() != nil || a.role.follower() != nil {
		following.Go(func() { a.holdOrFollow(followCtx, leaseLost) })
	}

	var err error
	select {
	case <-ctx.Done():
		a.log.Info("draining", "period", a.opts.DrainPeriod)
	case err = <-errc:
		a.log.Error("listener failed, stopping", "err", err)
	case lerr := <-leaseLost:
		// Another gateway runs the rollout now: this one stops acting on
		// it (the controller closes first, below) and drains.
		err = fmt.Errorf("app: rollout.store: lease lost: %w", lerr)
		a.log.Error("rollout store taken by another gateway, stopping", "err", err)
	}

	sctx, cancel := context.WithTimeout(context.Background(), a.opts.DrainPeriod+a.opts.ShutdownTimeout)
	defer cancel()
	// The controller first (and a follower, which might start one): it
	// must not read the drain as a failing backend. Its stored state is
	// untouched, so the next process resumes.
	stopFollowing()
	following.Wait()
	if f := a.role.follower(); f != nil {
		f.end()
	}
	if c := a.role.controller(); c != nil {
		_ = c.Close()
	}
	_ = a.admin.Shutdown(sctx) // the event streams, which would hold adminSrv
	cancelAdmin()              // after the streams have said "shutdown"
	_ = adminSrv.Shutdown(sctx)
	// The edge's HTTP server stops taking clients and waits for its
	// requests, the hijacked connections being the edge's. A long-polling
	// client's waiting GET is such a request, and only the edge's drain
	// answers it before the next ping: the two run together.
	var edgeHTTP sync.WaitGroup
	edgeHTTP.Go(func() { _ = edgeSrv.Shutdown(sctx) })
	if derr := a.edge.Shutdown(sctx); derr != nil {
		a.log.Warn("edge drain cut short", "err", derr)
	}
	fresh.CloseAll()
	edgeHTTP.Wait()
	servers.Wait()
	stopBG()
	workers.Wait()
	// What is left (the gateway's backend connections, queued alerts, the
	// store) gets its own time, not what the drain left over.
	rctx, rcancel := context.WithTimeout(context.Background(), a.opts.ShutdownTimeout)
	defer rcancel()
	_ = a.release(rctx)
	return err
}

// tickHealth sets the sessions gauges from the gateway and appends a
// health point every healthTick until ctx ends.
func (a *App) tickHealth(ctx context.Context) {
	t := time.NewTicker(healthTick)
	defer t.Stop()
	for {
		a.sampleSessions()
		a.monitor.Tick()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sampleSessions sets each backend's sessions gauge from the gateway.
func (a *App) sampleSessions() {
	s := a.gw.Status().Sessions
	a.monitor.Backend(router.Blue).SetSessions(int64(s.Blue))
	a.monitor.Backend(router.Green).SetSessions(int64(s.Green))
}

// release closes what Build opened, in dependency order; nil parts are
// skipped (a Build that failed half-way).
func (a *App) release(ctx context.Context) error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if c := a.role.controller(); c != nil {
		errs = append(errs, c.Close())
	}
	if a.admin != nil {
		errs = append(errs, a.admin.Shutdown(ctx))
	}
	for _, ln := range []net.Listener{a.edgeLn, a.adminLn, a.opts.EdgeListener, a.opts.AdminListener} {
		if ln != nil {
			_ = ln.Close() // already closed by http.Server.Shutdown after Serve
		}
	}
	if a.gw != nil {
		errs = append(errs, a.gw.Close(ctx))
	}
	if a.dispatcher != nil {
		errs = append(errs, a.dispatcher.Close(ctx))
	}
	if l := a.heldLease(); l != nil {
		errs = append(errs, l.Release(ctx))
	}
	if a.st != nil && a.ownStore {
		errs = append(errs, a.st.Close())
	}
	if a.redis != nil {
		errs = append(errs, a.redis.Close())
	}
	return errors.Join(errs...)
}
