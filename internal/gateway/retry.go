package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
)

// A move that fails leaves its session where it was, and a session whose
// own backend cannot be dialed is attached (or re-attached) to the other:
// availability first. Such a session is misplaced, on another backend
// than its bucket and the weight say, and a weight change would put it
// right; but none may come for long (a rollout's hold, a rollout that
// completed at 100 %). So the gateway tries the misplaced sessions again
// itself, in rounds: the first Options.RetryBackoff after the weight
// change that left them (or after the first such attach), each further
// one after twice the wait before, up to Options.RetryMaxBackoff, until
// none is left. At most one goroutine runs the rounds.
//
// A round is what a weight change to the current weight would do: it
// holds weightLock, lists the misplaced sessions under mu and moves them
// at the pace of the last weight change (an emergency's unpaced), each
// move counted as a weight change's is. It gives way to everything else
// that takes weightLock: a weight change or a preparation stops a round
// under way (its moves are called off; the sessions stay where they are)
// rather than wait for it. A weight change then decides afresh: a change
// that ran to its end starts the rounds over if it left sessions
// misplaced, and stops them if it did not; one that was called off (a
// rollout paused, its caller gone) stops them until the next change, so
// that the moves it did not make are not made behind its back.
//
// A round leaves alone a session whose backend connection is down (its
// re-attach places it, and starts the rounds again if it has to land on
// the other backend) and one the flap rule sent to the other backend
// (flap.go): the rounds would take it back to the backend that kept
// dropping it; the next weight change places it.

// errRetryYields stops a round for a weight change or a preparation.
var errRetryYields = errors.New("gateway: retry round gave way")

// retrier is the state of the retry rounds. Under Gateway.mu.
type retrier struct {
	wanted  bool // sessions may be misplaced
	held    bool // the last weight change was called off
	fresh   bool // the waits start over (a weight change ended)
	running bool // the goroutine runs
	pace    int  // of the last weight change, as SetWeightPaced's
	// stop calls off the round under way, if any.
	stop context.CancelCauseFunc
	// wake tells the goroutine that a weight change ended.
	wake chan struct{}
}

// noteMisplaced starts the rounds for a session that an attach or a
// re-attach left on the other backend, unless the last weight change was
// called off. Rounds already under way will find it.
func (g *Gateway) noteMisplaced() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retry.held || g.closed {
		return
	}
	g.retry.wanted = true
	if !g.retry.running {
		g.startRetryLocked()
	}
}

// retryAfterChange sets the rounds after a weight change to table at
// pace, which completed or was called off. The caller holds weightLock.
func (g *Gateway) retryAfterChange(table *router.Table, pace int, completed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := &g.retry
	r.held, r.fresh, r.pace = !completed, true, pace
	r.wanted = completed && g.anyMisplacedLocked(table)
	switch {
	case g.closed:
	case r.running:
		select {
		case r.wake <- struct{}{}:
		default: // a wake is pending already
		}
	case r.wanted:
		g.startRetryLocked()
	}
}

// startRetryLocked starts the goroutine of the rounds. g.mu is held.
func (g *Gateway) startRetryLocked() {
	if g.closed {
		return // Close waits for g.wg only after setting closed
	}
	g.retry.running = true
	g.wg.Add(1)
	go g.retryLoop()
}

// stopRetryLocked calls off the round under way, if any, for whoever
// waits for weightLock. g.mu is held.
func (g *Gateway) stopRetryLocked() {
	if g.retry.stop != nil {
		g.retry.stop(errRetryYields)
	}
}

// misplacedLocked lists the sessions that a round would move to where
// table says. g.mu is held.
func (g *Gateway) misplacedLocked(table *router.Table) []*session.Session {
	var out []*session.Session
	for _, s := range g.sessions {
		if g.misplacedOneLocked(s, table) {
			out = append(out, s)
		}
	}
	return out
}

// anyMisplacedLocked reports whether a round would move a session: the
// first one found answers. g.mu is held.
func (g *Gateway) anyMisplacedLocked(table *router.Table) bool {
	for _, s := range g.sessions {
		if g.misplacedOneLocked(s, table) {
			return true
		}
	}
	return false
}

// misplacedOneLocked says whether a round would move s: live, on another
// backend than table says, and not sent there by the flap rule. g.mu is
// held.
func (g *Gateway) misplacedOneLocked(s *session.Session, table *router.Table) bool {
	c, live := s.Attached()
	return live && c != table.Backend(s.User()) && g.quickDrops[s] < flapLimit
}

func (g *Gateway) retryLoop() {
	defer g.wg.Done()
	r := &g.retry
	var wait time.Duration
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		g.mu.Lock()
		if !r.wanted || g.closed {
			r.running = false
			g.mu.Unlock()
			return
		}
		if r.fresh || wait == 0 {
			r.fresh, wait = false, g.opts.RetryBackoff
		}
		g.mu.Unlock()
		t.Reset(wait)
		select {
		case <-g.ctx.Done():
			return
		case <-r.wake:
			continue
		case <-t.C:
		}
		moved, failed, done := g.retryRound()
		next := min(2*wait, g.opts.RetryMaxBackoff)
		switch {
		case failed > 0:
			g.log.Warn("gateway: misplaced sessions tried again, some still failing", "moved", moved, "failed", failed, "next_in", next)
		case moved > 0:
			g.log.Info("gateway: misplaced sessions tried again", "moved", moved)
		}
		if done {
			wait = next
		}
	}
}

// retryRound runs one round (see above) and reports its moves, and
// whether it ran to its end rather than gave way.
func (g *Gateway) retryRound() (moved, failed int, done bool) {
	ctx, cancel := context.WithCancelCause(g.ctx)
	defer cancel(nil)
	select {
	case g.weightLock <- struct{}{}:
	case <-ctx.Done():
		return 0, 0, false
	}
	defer func() { <-g.weightLock }()

	g.mu.Lock()
	r := &g.retry
	if g.closed || !r.wanted || r.fresh || g.lockWaiting > 0 {
		g.mu.Unlock() // whoever takes weightLock next decides
		return 0, 0, false
	}
	r.stop = cancel
	table, pace := g.router.Table(), r.pace
	todo := g.misplacedLocked(table)
	g.mu.Unlock()

	if pace < 0 {
		g.retire.hold() // as the emergency's own moves (SetWeightPaced)
		defer g.retire.release()
	}
	moved, failed, err := eachSession(ctx, g.pacerFor(pace), todo, func(ctx context.Context, s *session.Session) (bool, error) {
		to := table.Backend(s.User())
		if c, live := s.Attached(); !live || c == to {
			return false, nil // re-attaching, or placed meanwhile
		}
		g.stats.movesRetried.Add(1)
		// One line per round rather than per failed move: the rounds
		// repeat for as long as a backend refuses.
		return g.movePreserving(ctx, s, to, slog.LevelDebug)
	})

	g.mu.Lock()
	r.stop = nil
	if err == nil {
		r.wanted = g.anyMisplacedLocked(table)
	}
	late := g.preparedLate
	g.mu.Unlock()
	if late {
		g.releasePrepared() // expirePrepared found weightLock taken by this round
	}
	return moved, failed, err == nil
}
