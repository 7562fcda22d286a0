package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
)

// ErrClosed is returned by commands after Close.
var ErrClosed = errors.New("rollout: controller closed")

// Defaults of Options.
const (
	DefaultPrepareTimeout = 10 * time.Second
	DefaultStoreTimeout   = 5 * time.Second
	DefaultRetryBackoff   = time.Second
	// rollbackAttempts bounds the SetWeight(0) calls of one rollback while
	// some moves keep failing.
	rollbackAttempts = 3
)

// Options configure a Controller. Shifter, Health and Store are required.
type Options struct {
	// Plan is the configured plan that Start's override applies to; it
	// need not have been through SetDefaults.
	Plan config.Rollout
	// Shifter applies weights (the gateway).
	Shifter Shifter
	// Health is what the gates read.
	Health HealthSource
	// Prober checks green before the first step. Nil skips the check.
	Prober Prober
	// Store persists the state and the event log.
	Store Store
	// Notifier receives alerts. Nil sends none.
	Notifier Notifier
	// MaxMinSamples is the most latency samples the gates can count in
	// one health window (config.ProbeSamplesPerWindow); Start refuses a
	// plan whose min_samples is higher, since its latency checks could
	// never pass. Zero means no bound.
	MaxMinSamples int
	// ProbeInterval is the probe's period when the gates read its
	// latencies (zero otherwise). A gate reads the samples recorded since
	// its step began, so Start also refuses a plan whose min_samples is
	// above what the probe gives over a step's hold and extensions
	// (config.StepProbes), the hold as test mode makes it.
	ProbeInterval time.Duration
	// Logger receives every transition and verdict. Nil discards.
	Logger *slog.Logger
	// TestMode replaces every plan's hold by TestHold (TestHold zero means
	// the package's TestHold); nothing else changes.
	TestMode bool
	TestHold time.Duration
	// PrepareTimeout bounds the green check. Zero means 10s.
	PrepareTimeout time.Duration
	// StoreTimeout bounds each store call the controller makes on its own
	// (commands use their ctx as well). Zero means 5s.
	StoreTimeout time.Duration
	// RetryBackoff is the pause before the controller retries after a
	// failed store write or weight change. Zero means 1s.
	RetryBackoff time.Duration
	// Now is the clock; nil means time.Now. Holds wait on real timers.
	Now func() time.Time
	// OnEmergency, when not nil, is called by EmergencyRollback once the
	// emergency is decided and its moves have begun, before the state is
	// stored: the app tells the other gateways on the store from it (see
	// app's emergency notice). It may block briefly (a bounded write),
	// delaying only the storing; st is the state being stored.
	OnEmergency func(st State)
}

// Controller runs one rollout at a time. All methods are safe for
// concurrent use.
//
// Concurrency: ioMu serialises transitions, with their store writes and
// event emission, so events are ordered like the stored states. mu guards
// the state in memory and is never held across store I/O, so the driver
// and an emergency rollback never wait for the store to read or change it.
// One driver goroutine acts on an active state (probe, set weight, hold,
// gate); every transition bumps gen and cancels the driver's current
// operation, so the driver drops a result computed for a state that has
// since changed. Lock order: ioMu, then mu.
type Controller struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the driver

	// restoreStop and restored, set by New when it restores the stored
	// weight in the background, call that off and tell its end (see
	// stopRestore).
	restoreStop context.CancelFunc
	restored    chan struct{}

	prepared preparedStep // the step whose next one was prepared; the driver's only
	// recovered is the step a restarted controller took over, until its
	// first gate: the health began again with this process, so an
	// inconclusive verdict there is no evidence (see gate). The driver's
	// only, once New has set it.
	recovered preparedStep

	snap atomic.Pointer[State] // what Status returns; replaced, never mutated

	// unfenced is the store without its lease's fence (Unfencer), for an
	// emergency rollback's state, which overwrites whatever is stored,
	// from any gateway, and its events.
	unfenced Store

	ioMu    sync.Mutex
	version uint64 // stored version of the state; ioMu
	// unsure are the state writes, since the last one that succeeded,
	// that failed otherwise than by a conflict: one of them may still have
	// been made (a reply lost, a commit that lands after its caller gave
	// up), and the conflict that follows is then our own write, not
	// another writer's (see reload, noteUnsure). ioMu.
	unsure []unsureWrite

	mu       sync.Mutex
	st       State
	gen      uint64
	cancelOp context.CancelFunc
	driving  bool
	restore  bool // re-apply the stored weight before going on (after a load)
	byHand   int  // weights set by hand being applied (SetWeightByHand)
	starting bool // a start is being stored: no weight is set by hand meanwhile
	closed   bool
	feed     Feed // the events, to the API's streams
	// unstored: st is ahead of the store (an emergency rollback acts
	// before it is stored); pending are its events, not yet stored or
	// delivered. The next holder of ioMu stores both (flush).
	unstored bool
	pending  []Event
}

// New loads the stored state and, when a rollout was active, resumes it:
// the stored weight is applied again and the stored step continues.
func New(ctx context.Context, opts Options) (*Controller, error) {
	switch {
	case opts.Shifter == nil:
		return nil, errors.New("rollout: Options.Shifter is required")
	case opts.Health == nil:
		return nil, errors.New("rollout: Options.Health is required")
	case opts.Store == nil:
		return nil, errors.New("rollout: Options.Store is required")
	}
	def(&opts.TestHold, TestHold)
	def(&opts.PrepareTimeout, DefaultPrepareTimeout)
	def(&opts.StoreTimeout, DefaultStoreTimeout)
	def(&opts.RetryBackoff, DefaultRetryBackoff)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{opts: opts, log: log, now: opts.Now, unfenced: opts.Store}
	if u, ok := opts.Store.(Unfencer); ok {
		c.unfenced = u.Unfenced()
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())

	st, version, err := c.load(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.st, c.version = st, version
	c.publishSnap()
	c.keepStandby()
	switch {
	case st.Phase.Active():
		c.restore = st.Phase == Preparing || st.Step == 0 && st.PausedFrom == Preparing ||
			st.Step > 0 && (st.Applied || st.Phase == Paused)
		if r := st.currentStep(); r != nil {
			c.recovered = preparedStep{id: st.ID, step: st.Step, started: r.StartedAt}
		}
		c.ioMu.Lock()
		c.emit(c.stamp(st.Phase, st, []Event{{Kind: EventRecovered,
			Message: fmt.Sprintf("resuming %s at step %d, weight %v", st.Phase, st.Step, st.Weight)}}))
		c.ioMu.Unlock()
		c.mu.Lock()
		c.ensureDriver()
		c.mu.Unlock()
	case version > 0:
		// A rollout that ended, or a weight set by hand, left the gateway
		// at st.Weight: a restart comes back to it, whatever the config's
		// startup weight (which serves a store that holds nothing yet).
		// A rollout's driver or a weight set by hand calls it off first
		// (stopRestore).
		rctx, stop := context.WithCancel(c.ctx)
		c.restoreStop, c.restored = stop, make(chan struct{})
		c.wg.Go(func() {
			defer close(c.restored)
			c.restoreWeight(rctx, st)
		})
	}
	return c, nil
}

// stopRestore calls off the restore of the stored weight that New began,
// if any, and waits for it to end: a weight set after it (a rollout's
// step, an operator's) must not be overwritten by it.
func (c *Controller) stopRestore() {
	if c.restoreStop != nil {
		c.restoreStop()
		<-c.restored
	}
}

func def[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Close stops the driver where it stands, without changing the stored
// state: a controller created later on the same store resumes. Only an
// emergency rollback not stored yet is stored first (within the store
// timeout), over another writer's state as ever, even when this gateway
// has lost the store's lease (Unfencer): left out, the gateway
// that follows the store next (a restart, or this one demoted to a
// follower) would undo it. It closes every subscription. Later commands
// fail with ErrClosed.
func (c *Controller) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.cancel()
	c.mu.Unlock()
	c.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.StoreTimeout)
	c.ioMu.Lock()
	c.flush(ctx)
	c.ioMu.Unlock()
	cancel()
	c.feed.Close()
	return nil
}

// Status returns the current state. It never blocks on the store.
func (c *Controller) Status() State { return c.snap.Load().clone() }

func (c *Controller) publishSnap() {
	s := c.st.clone()
	c.snap.Store(&s)
}

// Start begins a rollout with the configured plan changed by o (nil: none).
// It returns once the start is stored; the rollout runs in the background.
// A bad override fails with ErrInvalidPlan naming the fields. A plan whose
// first step is below the weight the gateway stands at fails with a
// *DecreaseError, unless o allows it (AllowDecrease).
func (c *Controller) Start(ctx context.Context, o *Override) (State, error) {
	plan, err := NewPlan(c.opts.Plan, o)
	if err != nil {
		return State{}, err
	}
	if c.opts.TestMode {
		plan.Hold = Duration(c.opts.TestHold)
	}
	if n := c.opts.MaxMinSamples; n > 0 && plan.MinSamples > n {
		return State{}, fmt.Errorf("%w: %w", ErrInvalidPlan, &config.FieldError{Path: "rollout.min_samples",
			Msg: fmt.Sprintf("%d latency samples can never gather: the gates see at most %d per health window", plan.MinSamples, n)})
	}
	if iv := c.opts.ProbeInterval; iv > 0 {
		if n := config.StepProbes(plan.Hold.D(), plan.MaxExtensions, iv); plan.MinSamples > n {
			return State{}, fmt.Errorf("%w: %w", ErrInvalidPlan, &config.FieldError{Path: "rollout.min_samples",
				Msg: fmt.Sprintf("%d latency samples can never gather: a step's gates read the probe's since the step began, and it makes %d over the hold and extensions (%v × %d, one every %v)",
					plan.MinSamples, n, plan.Hold, 1+plan.MaxExtensions, iv)})
		}
	}
	id := newID(c.now())
	var check func(State) error
	if o == nil || !o.AllowDecrease {
		check = func(s State) error { return c.checkDecrease(s, plan.Weight(1)) }
	}
	return c.commandIf(ctx, OpStart, check, func(s *State, now time.Time) []Event {
		// Nobody moves until green answers: the state keeps the weight
		// the gateway stands at, which followers apply and a restart
		// comes back to.
		*s = State{ID: id, Phase: Preparing, Plan: &plan, StartedAt: now, Weight: c.opts.Shifter.Status().Weight}
		return []Event{{Kind: EventStarted, Message: fmt.Sprintf("rollout %s started: steps %v, hold %v", id, plan.Steps, plan.Hold)}}
	})
}

// checkDecrease refuses a start from s whose first step is below the
// weight the gateway stands at: the stored one (which a restart comes back
// to) or the gateway's own, when higher (the config's startup weight,
// before anything was stored).
func (c *Controller) checkDecrease(s State, first router.Weight) error {
	gs := c.opts.Shifter.Status()
	cur := max(s.Weight, gs.Weight)
	if first >= cur {
		return nil
	}
	e := &DecreaseError{Phase: s.Phase, Current: cur, First: first}
	if mc, ok := c.opts.Shifter.(MoveCounter); ok {
		e.ToBlue, _ = mc.WouldMove(first)
	} else {
		e.ToBlue, e.Estimated = gs.Sessions.Green*int(cur-first)/int(cur), true
	}
	return e
}

// Pause stops the clock: no more moves or gates until Resume. A step's
// remaining hold is kept.
func (c *Controller) Pause(ctx context.Context) (State, error) {
	return c.command(ctx, OpPause, func(s *State, now time.Time) []Event {
		s.PausedFrom, s.HoldLeft = s.Phase, 0
		if s.Phase == Shifting && s.Applied {
			s.HoldLeft = Duration(max(s.HoldUntil.Sub(now), 0))
		}
		s.Phase = Paused
		return []Event{{Kind: EventPaused, Message: fmt.Sprintf("paused at step %d", s.Step)}}
	})
}

// Resume continues a paused rollout where it stood.
func (c *Controller) Resume(ctx context.Context) (State, error) {
	return c.command(ctx, OpResume, func(s *State, now time.Time) []Event {
		s.Phase = s.PausedFrom
		if s.Phase == Shifting && s.Applied {
			s.HoldUntil = now.Add(s.HoldLeft.D())
		}
		s.PausedFrom, s.HoldLeft = "", 0
		return []Event{{Kind: EventResumed}}
	})
}

// Promote skips the remaining steps: it moves everyone to green at the
// plan's pace and completes without further gates.
func (c *Controller) Promote(ctx context.Context) (State, error) {
	return c.command(ctx, OpPromote, func(s *State, now time.Time) []Event {
		s.endStep(now, "")
		s.Phase, s.PausedFrom, s.HoldLeft = Shifting, "", 0
		s.Step, s.Weight, s.Applied, s.Promoted = len(s.Plan.Steps), router.Full, false, true
		s.Extensions, s.HoldUntil = 0, time.Time{}
		s.beginStep(now, c.opts.Health.Preservation())
		return []Event{{Kind: EventPromoted, Message: "promoted: moving everyone to green"}}
	})
}

// Rollback moves everyone back to blue at the plan's pace.
func (c *Controller) Rollback(ctx context.Context) (State, error) {
	return c.command(ctx, OpRollback, func(s *State, now time.Time) []Event {
		s.startRollback(now, false, "rollback requested by operator")
		return []Event{{Kind: EventRollbackStarted, Message: s.Reason}}
	})
}

// EmergencyRollback moves every session to blue as fast as the shifter
// can (PacedShifter with Unpaced). It is allowed in every phase but idle
// and rolled_back, also during a normal rollback, which it speeds up.
// Unlike other commands it acts before the store has recorded it, and
// even when the store cannot: safety first, and a store that hangs may be
// part of the incident. Status shows it at once; its events are stored
// and delivered once the store answers (or gives up), and the state is
// written then or with the next transition. A write that conflicts with
// another writer's is overwritten, also when this gateway has lost the
// store's lease (Unfencer): the emergency wins.
func (c *Controller) EmergencyRollback(ctx context.Context) (State, error) {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return State{}, ErrClosed
	case c.st.Phase == RollingBack && c.st.Emergency:
		defer c.mu.Unlock()
		return c.st.clone(), &TransitionError{Op: OpEmergency, Phase: c.st.Phase, Emergency: true}
	case !OpEmergency.allowedFrom(c.st.Phase):
		defer c.mu.Unlock()
		return c.st.clone(), &TransitionError{Op: OpEmergency, Phase: c.st.Phase}
	}
	from := c.st.Phase
	next := c.st.clone()
	next.startRollback(c.now(), true, "emergency rollback requested by operator")
	c.st, c.unstored = next, true
	evs := c.stamp(from, next, []Event{{Kind: EventRollbackStarted, Message: next.Reason, Emergency: true}})
	c.announce(evs)
	c.pending = append(c.pending, evs...)
	c.keepStandby()
	c.interrupt()
	c.ensureDriver()
	c.publishSnap()
	c.mu.Unlock()

	if c.opts.OnEmergency != nil {
		c.opts.OnEmergency(next.clone())
	}
	c.ioMu.Lock()
	defer c.ioMu.Unlock()
	c.flush(ctx)
	return next.clone(), nil
}

// Abort stops the rollout where it stands: the weight stays, nobody moves.
func (c *Controller) Abort(ctx context.Context) (State, error) {
	return c.command(ctx, OpAbort, func(s *State, now time.Time) []Event {
		s.endStep(now, "")
		s.Phase, s.EndedAt, s.Reason = Aborted, now, "aborted by operator"
		s.PausedFrom, s.HoldLeft = "", 0
		return []Event{{Kind: EventAborted, Message: fmt.Sprintf("aborted at step %d, weight %v", s.Step, s.Weight)}}
	})
}

// command runs one operator transition: check it is allowed, store it,
// then act (publish, wake the driver). On a version conflict it reloads
// the stored state and tries once more against it.
func (c *Controller) command(ctx context.Context, op Op, fn func(*State, time.Time) []Event) (State, error) {
	return c.commandIf(ctx, op, nil, fn)
}

// commandIf is command with check, when not nil, run on the state the
// transition would start from (after the phase is found allowed, ioMu
// held, mu not): its error refuses the command, which changes nothing.
func (c *Controller) commandIf(ctx context.Context, op Op, check func(State) error, fn func(*State, time.Time) []Event) (State, error) {
	c.ioMu.Lock()
	defer c.ioMu.Unlock()
	c.flush(ctx)
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return State{}, ErrClosed
		case !op.allowedFrom(c.st.Phase):
			defer c.mu.Unlock()
			return c.st.clone(), &TransitionError{Op: op, Phase: c.st.Phase}
		case op == OpStart && c.byHand > 0:
			defer c.mu.Unlock()
			return c.st.clone(), &TransitionError{Op: op, Phase: c.st.Phase, ByHand: true}
		}
		if op == OpStart && !c.starting {
			// Until the start is stored and active, or refused, no weight
			// is set by hand: one begun now would undo the first step.
			c.starting = true
			defer func() {
				c.mu.Lock()
				c.starting = false
				c.mu.Unlock()
			}()
		}
		from, next, gen := c.st.Phase, c.st.clone(), c.gen
		c.mu.Unlock()

		if check != nil {
			if err := check(next); err != nil {
				return next, err
			}
		}
		evs := fn(&next, c.now())
		err := c.persist(ctx, &next)
		if errors.Is(err, store.ErrConflict) && attempt == 0 {
			if rerr := c.reload(ctx); rerr != nil {
				return c.current(), errors.Join(err, rerr)
			}
			continue
		}
		if err != nil {
			c.maybeMade(from, evs, err)
			return c.current(), fmt.Errorf("rollout: %s: %w", op, err)
		}
		if !c.applyIfCurrent(gen, from, next, evs) {
			// An emergency rollback began while this was stored; it
			// overwrites it (flush).
			st := c.current()
			return st, &TransitionError{Op: op, Phase: st.Phase, Emergency: true}
		}
		return next.clone(), nil
	}
}

// current returns a copy of the state in memory.
func (c *Controller) current() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.clone()
}

// applyIfCurrent makes next, already stored, the current state, emits
// its events and hands it to the driver, unless the state changed in
// memory since gen (an emergency rollback, which does not wait for ioMu).
// ioMu is held, mu is not.
func (c *Controller) applyIfCurrent(gen uint64, from Phase, next State, evs []Event) bool {
	c.mu.Lock()
	if c.gen != gen {
		c.mu.Unlock()
		return false
	}
	c.applyLocked(next)
	stamped := c.stamp(from, next, evs)
	// Announce before another transition can (an emergency rollback does
	// not wait for ioMu): log lines and alerts keep the transitions'
	// order, so an abort's resolve cannot reach PagerDuty after the
	// trigger of the emergency rollback that followed it.
	c.announce(stamped)
	c.mu.Unlock()
	c.record(stamped)
	return true
}

// applyLocked makes next the current state and wakes the driver. mu is
// held.
func (c *Controller) applyLocked(next State) {
	c.st, c.unstored = next, false
	c.keepStandby()
	c.interrupt()
	c.ensureDriver()
}

// keepStandby tells a StandbyKeeper shifter whether the rollout is
// active. c.mu is held.
func (c *Controller) keepStandby() {
	if k, ok := c.opts.Shifter.(StandbyKeeper); ok {
		k.KeepStandby(c.st.Phase.Active())
	}
}

// interrupt invalidates the driver's current operation. c.mu is held.
func (c *Controller) interrupt() {
	c.gen++
	if c.cancelOp != nil {
		c.cancelOp()
	}
}

// ensureDriver starts the driver when the state has work and none runs.
// c.mu is held.
func (c *Controller) ensureDriver() {
	if c.driving || c.closed || !c.st.Phase.Active() {
		return
	}
	c.driving = true
	c.wg.Add(1)
	go c.drive()
}
