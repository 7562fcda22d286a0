package gateway

import (
	"context"
	"time"

	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
)

// PrepareWeight readies the moves that setting weight w would make,
// without changing the weight: for each session w would move, it dials
// the backend the session would go to and keeps the connection as the
// session's standby (handover.Prepare), paced like the moves. The next
// weight change then moves those sessions by resubscribing on their
// prepared connections, with no TCP and protocol handshake inside the
// move: the change is shorter, and so is each client's delivery pause.
//
// A preparation serves the next weight change only: once that change's
// moves are done, the prepared connections it did not use are closed, as
// they are when no change comes within Options.PrepareTTL. Until then
// the target backend holds one idle connection per prepared session, and
// sees its handshake (a Socket.IO backend's connection handler runs; its
// custom events wait for the move, see session.DialAhead).
//
// It runs one after the other with weight changes, and returns how many
// sessions hold a prepared connection and how many dials failed; a
// session whose dial failed is moved by a dial, as without preparation.
// A weight change that comes while it dials stops it (ErrPreempted):
// the change does not wait, and uses what was prepared so far.
func (g *Gateway) PrepareWeight(ctx context.Context, w router.Weight) (prepared, failed int, err error) {
	return g.PrepareWeightPaced(ctx, w, 0)
}

// PrepareWeightPaced is PrepareWeight with the dials started at most
// movesPerSecond per second, as SetWeightPaced's moves: 0 means the
// configured pacing. A rollout with prepare_next prepares each step at
// the pace of its moves.
func (g *Gateway) PrepareWeightPaced(ctx context.Context, w router.Weight, movesPerSecond int) (prepared, failed int, err error) {
	pacer := g.pacerFor(movesPerSecond)
	if err := g.lockWeight(ctx, false); err != nil {
		return 0, 0, err
	}
	defer func() { <-g.weightLock }()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	g.mu.Lock()
	switch {
	case g.closed:
		g.mu.Unlock()
		return 0, 0, ErrClosed
	case g.changesWaiting > 0:
		g.mu.Unlock()
		return 0, 0, ErrPreempted
	}
	g.preempt = cancel
	next, err := g.router.Table().WithWeight(w)
	if err != nil {
		g.mu.Unlock()
		return 0, 0, err
	}
	todo := g.movedByLocked(next)
	g.mu.Unlock()

	prepared, failed, err = eachSession(ctx, pacer, todo, func(ctx context.Context, s *session.Session) (bool, error) {
		to := next.Backend(s.User())
		return handover.Prepare(ctx, s, to, g.dialer(to), g.opts.Handover)
	})
	// The TTL counts from here, when the connections are ready: a timer
	// started before the dials could fire while they run, when
	// expirePrepared cannot take weightLock, and never again.
	g.mu.Lock()
	g.preempt = nil
	if !g.closed { // Close closes the sessions, standbys with them
		g.armPreparedLocked()
	}
	g.mu.Unlock()
	if err != nil {
		err = context.Cause(ctx) // ErrPreempted, or ctx's own error
	}
	return prepared, failed, err
}

// lockWeightForChange takes weightLock for a weight change. A preparation
// holding it stops dialing (ErrPreempted) rather than make the change,
// above all an emergency rollback, wait for its dials: what it has
// prepared so far serves the change. A retry round stops likewise.
func (g *Gateway) lockWeightForChange(ctx context.Context) error {
	return g.lockWeight(ctx, true)
}

// lockWeight takes weightLock for a weight change (change) or a
// preparation. A retry round holding it gives way to either (retry.go).
func (g *Gateway) lockWeight(ctx context.Context, change bool) error {
	g.mu.Lock()
	g.lockWaiting++
	if change {
		g.changesWaiting++
		if g.preempt != nil {
			g.preempt(ErrPreempted)
		}
	}
	g.stopRetryLocked()
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.lockWaiting--
		if change {
			g.changesWaiting--
		}
		g.mu.Unlock()
	}()
	select {
	case g.weightLock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// armPreparedLocked notes a preparation and (re)starts the timer that
// closes its connections if no weight change uses them. g.mu is held.
func (g *Gateway) armPreparedLocked() {
	g.preparedPending, g.preparedLate = true, false
	if g.prepared == nil {
		g.prepared = time.AfterFunc(g.opts.PrepareTTL, g.expirePrepared)
		return
	}
	g.prepared.Reset(g.opts.PrepareTTL)
}

// expirePrepared closes the prepared connections no weight change used
// within PrepareTTL. A weight change under way closes them itself once
// its moves are done.
func (g *Gateway) expirePrepared() {
	select {
	case g.weightLock <- struct{}{}:
	default:
		// A weight change or a preparation holding it closes them or
		// arms the timer again; a retry round, which does neither,
		// closes them when it ends.
		g.mu.Lock()
		g.preparedLate = true
		g.mu.Unlock()
		return
	}
	defer func() { <-g.weightLock }()
	g.releasePrepared()
}

// releasePrepared closes, through the retirement queue, every standby
// that is not a blue one kept for a rollout's way back (keepsStandby),
// when a preparation is pending: the prepared connections, once the
// weight change they were prepared for is done. The caller holds
// weightLock.
func (g *Gateway) releasePrepared() {
	g.mu.Lock()
	pending := g.preparedPending && !g.closed // Close closes the sessions, standbys with them
	g.preparedPending, g.preparedLate = false, false
	if g.prepared != nil {
		g.prepared.Stop()
	}
	g.mu.Unlock()
	if !pending {
		return
	}
	for _, s := range g.Sessions() {
		// Taken from the session now, closed in the background: a
		// preparation that follows at once must not find it and count
		// it as prepared, only for its close to come after.
		if a := s.DropStandby(g.keepsStandby); a != nil {
			g.retire.run(func() { s.Release(a) })
		}
	}
}
