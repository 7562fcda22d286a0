package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
)

// Unpaced, given to SetWeightPaced, lifts the rate limit: the moves start
// as fast as UnpacedConcurrency allows (emergency rollback). It has the
// value of rollout.Unpaced.
const Unpaced = -1

// UnpacedConcurrency is how many moves run at once when unpaced (or the
// configured concurrency, when higher). Each move holds two backend
// connections for a moment, so this bounds the burst of dials.
const UnpacedConcurrency = 1024

// SetWeightPaced is SetWeight with the moves started at most
// movesPerSecond per second: 0 means the configured pacing, Unpaced no
// rate limit. Its moves count in Preservation. Concurrent calls (and
// SetWeight) run one after the other: one whose ctx ends while it waits
// for its turn returns an error matching both ErrNotApplied and ctx's
// error, and changes nothing, as does one on a closed gateway
// (ErrNotApplied and ErrClosed). Once w is applied, ctx's end stops only the
// moves, and w stays.
func (g *Gateway) SetWeightPaced(ctx context.Context, w router.Weight, movesPerSecond int) (moved, failed int, err error) {
	pacer := g.pacerFor(movesPerSecond)

	if err := g.lockWeightForChange(ctx); err != nil {
		// Told apart from a change cut off after it applied w: whoever
		// records the weight in force must not record this one.
		return 0, 0, fmt.Errorf("%w (%v%%: given up while another weight change was under way): %w", ErrNotApplied, w.Percent(), err)
	}
	defer func() { <-g.weightLock }()
	if movesPerSecond < 0 {
		// Taken under weightLock, so that a paced change still finishing
		// retires (and parks its standbys) before the emergency's moves.
		g.retire.hold() // see retire.go
		defer g.retire.release()
	}

	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return 0, 0, fmt.Errorf("%w: %w", ErrNotApplied, ErrClosed)
	}
	_, next, err := g.router.Set(w)
	if err != nil {
		g.mu.Unlock()
		return 0, 0, err
	}
	todo := g.movedByLocked(next)
	g.mu.Unlock()

	moved, failed, err = eachSession(ctx, pacer, todo, func(ctx context.Context, s *session.Session) (bool, error) {
		return g.movePreserving(ctx, s, next.Backend(s.User()), slog.LevelWarn)
	})
	g.releasePrepared() // what this change did not use
	g.retryAfterChange(next, movesPerSecond, err == nil)
	return moved, failed, err
}

// pacerFor is the pacer for movesPerSecond: 0 means the configured
// pacing, Unpaced no rate limit.
func (g *Gateway) pacerFor(movesPerSecond int) *handover.Pacer {
	switch {
	case movesPerSecond < 0:
		return handover.NewPacer(math.MaxInt32, max(g.opts.Concurrency, UnpacedConcurrency))
	case movesPerSecond > 0:
		return handover.NewPacer(movesPerSecond, g.opts.Concurrency)
	}
	return g.pacer
}

// movedByLocked lists the sessions that routing by next puts on another
// backend than the one they are on (also those whose earlier move
// failed). g.mu is held.
func (g *Gateway) movedByLocked(next *router.Table) []*session.Session {
	var todo []*session.Session
	for _, s := range g.sessions {
		if next.Backend(s.User()) != s.Color() {
			todo = append(todo, s)
		}
	}
	return todo
}

// WouldMove counts the sessions that weight w would move now, to blue and
// to green, as SetWeight would find them; it changes nothing. A weight out
// of range moves nobody.
func (g *Gateway) WouldMove(w router.Weight) (toBlue, toGreen int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next, err := g.router.Table().WithWeight(w)
	if err != nil {
		return 0, 0
	}
	for _, s := range g.sessions { // as movedByLocked
		switch to := next.Backend(s.User()); {
		case to == s.Color():
		case to == router.Blue:
			toBlue++
		default:
			toGreen++
		}
	}
	return toBlue, toGreen
}

// eachSession runs op on every session of todo at pacer's pace and counts
// the sessions op did and those it failed: an error on a session still
// open, before ctx ended, is a failure; a closed session or a call cut
// short is neither. It returns ctx's error when ctx ended before every
// op had ended: some were not started, or were called off.
func eachSession(ctx context.Context, pacer *handover.Pacer, todo []*session.Session, op func(context.Context, *session.Session) (bool, error)) (done, failed int, err error) {
	var (
		mu       sync.Mutex
		canceled bool
	)
	err = pacer.Each(ctx, len(todo), func(ctx context.Context, i int) {
		s := todo[i]
		ok, oerr := op(ctx, s)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case oerr != nil && s.Closed():
		case oerr != nil && ctx.Err() != nil:
			canceled = true
		case oerr != nil:
			failed++
		case ok:
			done++
		}
	})
	if err == nil && canceled {
		// Every move had started, but some were called off: the change
		// did not run to its end any more than one whose last moves were
		// never started.
		err = ctx.Err()
	}
	return done, failed, err
}
