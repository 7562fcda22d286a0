package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/baton-rt/baton/internal/alert"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sleep"
	"github.com/baton-rt/baton/internal/store"
)

// errStale: the state changed while the driver worked; its result is void.
var errStale = errors.New("rollout: state changed meanwhile")

// drive acts on the state until it is no longer active or the controller
// closes. Each round reads the state, does one operation (probe, set
// weight, wait, gate, roll back) under a cancelable context and commits
// the outcome only if no command changed the state meanwhile.
func (c *Controller) drive() {
	defer c.wg.Done()
	c.stopRestore() // a restore still running would undo the rollout's weights
	for {
		c.mu.Lock()
		if !c.st.Phase.Active() || c.ctx.Err() != nil {
			c.driving, c.cancelOp = false, nil
			c.mu.Unlock()
			return
		}
		st, gen, restore := c.st.clone(), c.gen, c.restore
		c.restore = false
		ctx, cancel := context.WithCancel(c.ctx)
		c.cancelOp = cancel
		c.mu.Unlock()

		if restore {
			c.restoreWeight(ctx, st)
		}
		err := c.round(ctx, st, gen)
		cancel()
		if errors.Is(err, store.ErrLeaseLost) {
			// Another gateway holds the store and runs the rollout from
			// what it loaded: no retry can store this one's.
			c.log.Error("rollout: the store is another gateway's now; this one stops driving the rollout", "phase", st.Phase, "step", st.Step, "err", err)
			c.mu.Lock()
			c.driving, c.cancelOp = false, nil
			c.mu.Unlock()
			return
		}
		if err != nil && !errors.Is(err, errStale) && ctx.Err() == nil {
			c.log.Warn("rollout: retrying", "phase", st.Phase, "step", st.Step, "err", err)
			_ = sleep.For(ctx, c.opts.RetryBackoff)
		}
	}
}

// round does one operation for st.
func (c *Controller) round(ctx context.Context, st State, gen uint64) error {
	switch st.Phase {
	case Paused:
		<-ctx.Done() // until a command (or Close) changes something
		return nil
	case Preparing:
		return c.prepare(ctx, gen)
	case Shifting:
		switch {
		case !st.Applied:
			return c.applyStep(ctx, st, gen)
		case c.now().Before(st.HoldUntil):
			c.prepareNext(ctx, st)
			_ = sleep.For(ctx, st.HoldUntil.Sub(c.now()))
			return nil
		default:
			return c.gate(st, gen)
		}
	case RollingBack:
		return c.rollback(ctx, st, gen)
	}
	return nil
}

// restoreWeight applies a loaded state's weight once: after a restart the
// gateway does not know it. Idempotent for sessions already in place.
func (c *Controller) restoreWeight(ctx context.Context, st State) {
	moved, failed, err := c.shift(ctx, st.Weight, c.pace(st))
	switch {
	case err != nil && ctx.Err() != nil:
		c.log.Info("rollout: restoring the stored weight called off", "weight", st.Weight, "moved", moved, "failed", failed)
		return
	case err != nil:
		c.log.Warn("rollout: restoring the stored weight failed", "weight", st.Weight, "err", err)
		return
	}
	c.log.Info("rollout: stored weight restored", "weight_percent", st.Weight.Percent(), "moved", moved, "failed", failed)
}

func (c *Controller) prepare(ctx context.Context, gen uint64) error {
	var err error
	if c.opts.Prober != nil {
		pctx, cancel := context.WithTimeout(ctx, c.opts.PrepareTimeout)
		err = c.opts.Prober.Probe(pctx, router.Green)
		cancel()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.commit(gen, func(s *State, now time.Time) []Event {
		if err != nil {
			s.startRollback(now, false, "green check failed: "+err.Error())
			return []Event{{Kind: EventGateFailed, Message: s.Reason}, {Kind: EventRollbackStarted, Message: s.Reason}}
		}
		s.Phase, s.Step, s.Weight, s.Applied = Shifting, 1, s.Plan.Weight(1), false
		s.beginStep(now, c.opts.Health.Preservation())
		return []Event{{Kind: EventGreenReady, Message: "green answered the probe"}, stepStarted(s)}
	})
}

func stepStarted(s *State) Event {
	return Event{Kind: EventStepStarted, Message: fmt.Sprintf("step %d of %d: %v on green", s.Step, len(s.Plan.Steps), s.Weight)}
}

// applyStep sets the step's weight (the moves run inside SetWeight) and
// starts the hold.
func (c *Controller) applyStep(ctx context.Context, st State, gen uint64) error {
	start := c.now()
	moved, failed, err := c.shift(ctx, st.Weight, c.pace(st))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("set weight %v: %w", st.Weight, err)
	}
	return c.commit(gen, func(s *State, now time.Time) []Event {
		s.Applied = true
		if r := s.currentStep(); r != nil {
			r.AppliedAt, r.Moved, r.Failed = now, r.Moved+moved, r.Failed+failed
		}
		applied := Event{Kind: EventStepApplied, Moved: moved, Failed: failed, Took: Duration(now.Sub(start)),
			Message: fmt.Sprintf("%v on green: %d moved, %d failed", s.Weight, moved, failed)}
		if s.Promoted {
			s.endStep(now, Pass)
			s.Phase, s.EndedAt = Completed, now
			return []Event{applied, {Kind: EventCompleted, Message: "promoted: everyone on green"}}
		}
		s.HoldUntil = now.Add(s.Plan.Hold.D())
		return []Event{applied}
	})
}

// prepareNext, for a plan with PrepareNext, has the shifter (a Preparer)
// dial ahead the connections of the next step's moves, once per step,
// early in its hold. A command that interrupts the hold (a pause, a
// rollback) cancels it at once; the next round of the same step tries
// again. What it dialed serves the next weight change, whichever it is:
// a rollback's moves close it.
func (c *Controller) prepareNext(ctx context.Context, st State) {
	p, ok := c.opts.Shifter.(Preparer)
	r := st.currentStep()
	if !ok || !st.Plan.PrepareNext || st.Promoted || st.Step >= len(st.Plan.Steps) || r == nil {
		return
	}
	key := preparedStep{id: st.ID, step: st.Step, started: r.StartedAt}
	if c.prepared == key {
		return
	}
	next := st.Plan.Weight(st.Step + 1)
	var prepared, failed int
	var err error
	if pp, ok := p.(PacedPreparer); ok && c.pace(st) != 0 {
		prepared, failed, err = pp.PrepareWeightPaced(ctx, next, c.pace(st)) // as the step's moves
	} else {
		prepared, failed, err = p.PrepareWeight(ctx, next)
	}
	if ctx.Err() != nil {
		return
	}
	c.prepared = key
	if err != nil {
		c.log.Warn("rollout: preparing the next step failed", "weight", next, "err", err)
		return
	}
	c.log.Info("rollout: next step prepared", "weight_percent", next.Percent(), "prepared", prepared, "failed", failed)
}

// preparedStep names the step whose next step prepareNext prepared.
type preparedStep struct {
	id      string
	step    int
	started time.Time
}

// gate evaluates the step and acts on the verdict. It judges the step's
// own traffic: the health recorded since the step began (its moves, its
// hold, any pause and every extension so far), as the preservation
// counters count from the step's baseline; a step longer than the health
// window is judged on the window.
func (c *Controller) gate(st State, gen uint64) error {
	r := st.currentStep()
	var from time.Time // no step record: the whole window
	if r != nil {
		from = r.StartedAt
	}
	gs := c.opts.Shifter.Status()
	in := gateInput{
		Step: st.Step, Extension: st.Extensions, Weight: st.Weight.Percent(), Now: c.now(),
		Green: c.opts.Health.SnapshotSince(router.Green, from), Blue: c.opts.Health.SnapshotSince(router.Blue, from),
		GreenSessions: gs.Sessions.Green, BlueSessions: gs.Sessions.Blue,
		Moves: since(c.opts.Health.Preservation(), st.Baseline),
	}
	v := evaluate(st.Plan, in)
	recovered := r != nil && c.recovered == preparedStep{id: st.ID, step: st.Step, started: r.StartedAt}
	err := c.commit(gen, func(s *State, now time.Time) []Event {
		evs := []Event{{Kind: EventVerdict, Verdict: &v, Message: fmt.Sprintf("step %d: %s", s.Step, v.Outcome)}}
		outcome := v.Outcome
		if outcome == Inconclusive && recovered {
			// The first gate since a restart reads health that began
			// with this process: too little data is no evidence about
			// green. The hold starts again; no extension is spent (the
			// next gate still reads from the step's start, so what this
			// process recorded meanwhile counts).
			s.addVerdict(v)
			s.HoldUntil = now.Add(s.Plan.Hold.D())
			return append(evs, Event{Kind: EventStepExtended, Verdict: &v,
				Message: fmt.Sprintf("step %d inconclusive on the health window of a restarted gateway, hold started again (no extension used): %s", s.Step, strings.Join(v.Reasons, "; "))})
		}
		if outcome == Inconclusive && s.Extensions >= s.Plan.MaxExtensions {
			outcome = Fail
			v.Reasons = append(v.Reasons, fmt.Sprintf("%s: still inconclusive after %d extensions", CheckExtensions, s.Extensions))
		}
		s.addVerdict(v)
		switch outcome {
		case Inconclusive:
			s.Extensions++
			s.HoldUntil = now.Add(s.Plan.Hold.D())
			return append(evs, Event{Kind: EventStepExtended, Verdict: &v,
				Message: fmt.Sprintf("step %d inconclusive, hold extended (%d of %d): %s", s.Step, s.Extensions, s.Plan.MaxExtensions, strings.Join(v.Reasons, "; "))})
		case Fail:
			s.endStep(now, Fail)
			reason := fmt.Sprintf("step %d gate failed: %s", s.Step, strings.Join(v.Reasons, "; "))
			s.startRollback(now, false, reason)
			return append(evs, Event{Kind: EventGateFailed, Verdict: &v, Message: reason},
				Event{Kind: EventRollbackStarted, Message: reason})
		}
		s.endStep(now, Pass)
		evs = append(evs, Event{Kind: EventStepPassed, Verdict: &v, Message: fmt.Sprintf("step %d passed at %v", s.Step, s.Weight)})
		if s.Step == len(s.Plan.Steps) {
			s.Phase, s.EndedAt = Completed, now
			return append(evs, Event{Kind: EventCompleted, Message: "everyone on green"})
		}
		s.Step++
		s.Weight, s.Applied, s.Extensions, s.HoldUntil = s.Plan.Weight(s.Step), false, 0, time.Time{}
		s.beginStep(now, c.opts.Health.Preservation())
		return append(evs, stepStarted(s))
	})
	if err == nil {
		c.recovered = preparedStep{}
	}
	return err
}

// rollback moves everyone to blue, retrying while moves fail.
func (c *Controller) rollback(ctx context.Context, st State, gen uint64) error {
	var moved, failed int
	var err error
	for attempt := range rollbackAttempts {
		if attempt > 0 {
			c.log.Warn("rollout: rollback incomplete, retrying", "failed", failed, "err", err)
			if sleep.For(ctx, c.opts.RetryBackoff) != nil {
				return ctx.Err()
			}
		}
		var m int
		m, failed, err = c.shift(ctx, 0, c.pace(st))
		moved += m
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil && failed == 0 {
			break
		}
	}
	return c.commit(gen, func(s *State, now time.Time) []Event {
		s.Phase, s.Applied, s.EndedAt = RolledBack, true, now
		msg := fmt.Sprintf("everyone back on blue: %d moved", moved)
		var severity alert.Severity // the default: a clean rollback resolves the incident
		switch {
		case err != nil:
			msg = fmt.Sprintf("rollback ended with an error: %v (%d moved, %d failed)", err, moved, failed)
			s.Reason += "; " + msg
			severity = alert.SeverityError
		case failed > 0:
			msg = fmt.Sprintf("rollback left %d sessions on green after %d attempts (%d moved)", failed, rollbackAttempts, moved)
			s.Reason += "; " + msg
			severity = alert.SeverityError
		}
		return []Event{{Kind: EventRollbackFinished, Moved: moved, Failed: failed, Took: Duration(now.Sub(s.RollbackAt)), Message: msg, severity: severity}}
	})
}

// commit applies fn to the state and stores it, unless a command changed
// the state since the driver read it (gen). A version conflict adopts the
// stored state.
func (c *Controller) commit(gen uint64, fn func(*State, time.Time) []Event) error {
	c.ioMu.Lock()
	defer c.ioMu.Unlock()
	c.flush(c.ctx)
	c.mu.Lock()
	if c.gen != gen || c.closed {
		c.mu.Unlock()
		return errStale
	}
	from, next := c.st.Phase, c.st.clone()
	c.mu.Unlock()
	evs := fn(&next, c.now())
	if err := c.persist(c.ctx, &next); err != nil {
		if errors.Is(err, store.ErrConflict) {
			if rerr := c.reload(c.ctx); rerr != nil {
				return errors.Join(err, rerr)
			}
			return errStale
		}
		c.maybeMade(from, evs, err)
		return fmt.Errorf("store state: %w", err)
	}
	if !c.applyIfCurrent(gen, from, next, evs) {
		return errStale
	}
	return nil
}

// shift applies w at the given pace (see PacedShifter).
func (c *Controller) shift(ctx context.Context, w router.Weight, pace int) (int, int, error) {
	if ps, ok := c.opts.Shifter.(PacedShifter); ok && pace != 0 {
		return ps.SetWeightPaced(ctx, w, pace)
	}
	return c.opts.Shifter.SetWeight(ctx, w)
}

// pace is the move rate for st: the plan's, or Unpaced in an emergency.
func (c *Controller) pace(st State) int {
	switch {
	case st.Phase == RollingBack && st.Emergency:
		return Unpaced
	case st.Plan != nil:
		return st.Plan.MovesPerSecond
	}
	return 0
}

// since returns the growth of cur over base. The counters restart from
// zero together (a restart of the gateway): when any is below its base,
// all count from zero. Judged one by one, a tried count that has caught
// up with its base and a kept count that has not would mix the two
// processes' counts (995 tried since the restart, against a kept of 5).
func since(cur, base Preservation) Preservation {
	if cur.MovesTried < base.MovesTried || cur.SocketsKept < base.SocketsKept ||
		cur.SubscriptionsTried < base.SubscriptionsTried || cur.SubscriptionsKept < base.SubscriptionsKept {
		base = Preservation{}
	}
	return Preservation{
		MovesTried:         cur.MovesTried - base.MovesTried,
		SocketsKept:        cur.SocketsKept - base.SocketsKept,
		SubscriptionsTried: cur.SubscriptionsTried - base.SubscriptionsTried,
		SubscriptionsKept:  cur.SubscriptionsKept - base.SubscriptionsKept,
	}
}
