package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/redisstore"
)

// Several gateways on one Redis store (rollout.store.when_held: follow):
// the one holding the store's lease runs the rollout controller; each
// other one follows it. A follower serves its clients, applies every
// weight the holder stores (moving its own sessions, paced by its own
// handover settings), shows the holder's rollout and relays its events,
// and refuses commands (admin.ErrFollowing). It tries the lease every
// third of its TTL and, once it holds it, stops following and runs the
// controller, which resumes the rollout where the store has it.

// followInterval is how often a follower reads the stored state and
// events.
const followInterval = 250 * time.Millisecond

// maxFollowEventsPerRead bounds one read of the stored events.
const maxFollowEventsPerRead = 256

// role is the admin API's rollout: the controller once this gateway runs
// it, the follower's view before.
type role struct {
	ctrl atomic.Pointer[rollout.Controller]
	f    *follower // nil for a gateway that ran the controller from the start
}

var _ admin.Rollout = (*role)(nil)

func (r *role) controller() *rollout.Controller { return r.ctrl.Load() }

// command runs do on the controller, or refuses it on a follower.
func (r *role) command(do func(*rollout.Controller) (rollout.State, error)) (rollout.State, error) {
	if c := r.ctrl.Load(); c != nil {
		return do(c)
	}
	return r.f.state(), r.f.refusal()
}

func (r *role) Start(ctx context.Context, o *rollout.Override) (rollout.State, error) {
	return r.command(func(c *rollout.Controller) (rollout.State, error) { return c.Start(ctx, o) })
}

func (r *role) Pause(ctx context.Context) (rollout.State, error) {
	return r.command(func(c *rollout.Controller) (rollout.State, error) { return c.Pause(ctx) })
}

func (r *role) Resume(ctx context.Context) (rollout.State, error) {
	return r.command(func(c *rollout.Controller) (rollout.State, error) { return c.Resume(ctx) })
}

func (r *role) Promote(ctx context.Context) (rollout.State, error) {
	return r.command(func(c *rollout.Controller) (rollout.State, error) { return c.Promote(ctx) })
}

func (r *role) Rollback(ctx context.Context) (rollout.State, error) {
	return r.command(func(c *rollout.Controller) (rollout.State, error) { return c.Rollback(ctx) })
}

func (r *role) EmergencyRollback(ctx context.Context) (rollout.State, error) {
	return r.command(func(c *rollout.Controller) (rollout.State, error) { return c.EmergencyRollback(ctx) })
}

func (r *role) Abort(ctx context.Context) (rollout.State, error) {
	return r.command(func(c *rollout.Controller) (rollout.State, error) { return c.Abort(ctx) })
}

func (r *role) SetWeightByHand(ctx context.Context, w router.Weight, set func() error) error {
	if c := r.ctrl.Load(); c != nil {
		return c.SetWeightByHand(ctx, w, set)
	}
	return r.f.refusal()
}

func (r *role) Status() rollout.State {
	if c := r.ctrl.Load(); c != nil {
		return c.Status()
	}
	return r.f.state()
}

func (r *role) Subscribe(buffer int) admin.EventStream {
	if c := r.ctrl.Load(); c != nil {
		return c.Subscribe(buffer)
	}
	return r.f.subscribe(buffer)
}

// follower is a gateway's part while another holds the store.
type follower struct {
	a      *App
	holder atomic.Pointer[string]
	st     atomic.Pointer[rollout.State]

	mu      sync.Mutex
	streams map[*followStream]struct{}
	ended   bool // took the store: streams end, none start
}

func newFollower(a *App, holder string) *follower {
	f := &follower{a: a, streams: make(map[*followStream]struct{})}
	f.holder.Store(&holder)
	idle := rollout.State{Phase: rollout.Idle}
	f.st.Store(&idle)
	return f
}

func (f *follower) state() rollout.State { return *f.st.Load() }

func (f *follower) refusal() error {
	return fmt.Errorf("%w: send it to the gateway holding rollout.store, %q", admin.ErrFollowing, *f.holder.Load())
}

// run follows the holder until ctx ends or this gateway takes the store
// and starts the controller; then it returns the lease it took.
func (f *follower) run(ctx context.Context) *redisstore.Lease {
	a := f.a
	want := make(chan router.Weight, 1)
	fctx, stopFollowing := context.WithCancel(ctx)
	var applier sync.WaitGroup
	applier.Go(func() { f.apply(fctx, want) })
	defer func() {
		stopFollowing()
		applier.Wait()
	}()

	lastEvent := f.newestEvent(ctx)
	var version uint64
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	campaign := time.Now().Add(a.cfg.Rollout.Store.Lease / 3)
	for {
		if v, ok := f.readState(ctx, version); ok {
			version = v
			select {
			case <-want: // a newer weight replaces one not applied yet
			default:
			}
			want <- f.state().Weight
		}
		lastEvent = f.relayEvents(ctx, lastEvent)
		if !time.Now().Before(campaign) {
			campaign = time.Now().Add(a.cfg.Rollout.Store.Lease / 3)
			if l := f.takeOver(ctx, stopFollowing, &applier); l != nil {
				return l
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// readState reads the stored state; ok when its version is not seen.
func (f *follower) readState(ctx context.Context, seen uint64) (uint64, bool) {
	a := f.a
	rctx, cancel := context.WithTimeout(ctx, followInterval*4)
	stored, err := a.st.GetState(rctx)
	cancel()
	if err != nil || stored.Version == seen {
		if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			a.log.Debug("follower: state not read", "err", err)
		}
		return seen, false
	}
	st, err := rollout.DecodeStoredState(stored.Blob)
	if err != nil {
		a.log.Warn("follower: stored state not understood, kept the last one", "err", err)
		return stored.Version, false
	}
	f.st.Store(&st)
	return stored.Version, true
}

// apply moves this gateway's sessions to each weight the holder stores.
func (f *follower) apply(ctx context.Context, want <-chan router.Weight) {
	a := f.a
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-want:
			if a.gw.Status().Weight == w {
				continue
			}
			moved, failed, err := shifter{a.gw}.SetWeight(ctx, w)
			if err != nil && ctx.Err() != nil {
				return
			}
			a.log.Info("follower: applied the holder's weight", "weight_percent", w.Percent(), "moved", moved, "failed", failed, "err", err)
		}
	}
}

// newestEvent is the seq of the newest stored event: a follower relays
// what comes after it.
func (f *follower) newestEvent(ctx context.Context) uint64 {
	var last uint64
	for {
		rctx, cancel := context.WithTimeout(ctx, followInterval*4)
		evs, err := f.a.st.ListEvents(rctx, last, maxFollowEventsPerRead)
		cancel()
		if err != nil || len(evs) == 0 {
			return last
		}
		last = evs[len(evs)-1].Seq
		if len(evs) < maxFollowEventsPerRead {
			return last
		}
	}
}

// relayEvents offers the events stored after last to the streams; it
// returns the seq to read after next time.
func (f *follower) relayEvents(ctx context.Context, last uint64) uint64 {
	rctx, cancel := context.WithTimeout(ctx, followInterval*4)
	evs, err := f.a.st.ListEvents(rctx, last, maxFollowEventsPerRead)
	cancel()
	if err != nil {
		return last
	}
	for _, se := range evs {
		last = se.Seq
		var e rollout.Event
		if json.Unmarshal(se.Data, &e) != nil {
			continue // not the controller's: nothing to relay
		}
		e.Seq = se.Seq
		f.mu.Lock()
		for s := range f.streams {
			s.offer(e)
		}
		f.mu.Unlock()
	}
	return last
}

// takeOver tries the lease; with it, it stops following and starts the
// controller, and returns the lease. Nil: this gateway still follows.
func (f *follower) takeOver(ctx context.Context, stopFollowing context.CancelFunc, applier *sync.WaitGroup) *redisstore.Lease {
	a := f.a
	actx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	lease, err := a.st.(*redisstore.Store).Acquire(actx, leaseOwner(a.cfg.Admin.Listen), a.leaseOptions())
	cancel()
	if held, ok := errors.AsType[*redisstore.HeldError](err); ok {
		f.holder.Store(&held.Owner)
		return nil
	}
	if err != nil {
		return nil // Redis away: try again at the next round
	}
	// The weights are the controller's from here: no move of the
	// follower's may run beside its restore.
	stopFollowing()
	applier.Wait()
	ctrl, err := rollout.New(ctx, a.controllerOptions())
	if err != nil {
		a.log.Error("follower: took the store but could not start the controller; following again", "err", err)
		_ = lease.Release(context.WithoutCancel(ctx))
		return nil
	}
	a.setLease(lease)
	a.role.ctrl.Store(ctrl)
	f.end()
	a.log.Info("took rollout.store: this gateway runs the rollout now", "phase", ctrl.Status().Phase)
	return lease
}

// end closes the relayed streams: their readers come back to the
// controller's.
func (f *follower) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = true
	for s := range f.streams {
		s.closeLocked()
	}
}

func (f *follower) subscribe(buffer int) admin.EventStream {
	s := &followStream{f: f, c: make(chan rollout.Event, max(buffer, 1))}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		close(s.c)
		s.closed = true
		return s
	}
	f.streams[s] = struct{}{}
	return s
}

// followStream is one reader of the relayed events; bounded, dropping
// the oldest, as the controller's subscriptions are.
type followStream struct {
	f       *follower
	c       chan rollout.Event
	dropped atomic.Uint64
	closed  bool // under f.mu
}

func (s *followStream) C() <-chan rollout.Event { return s.c }
func (s *followStream) Dropped() uint64         { return s.dropped.Load() }

func (s *followStream) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.closeLocked()
}

func (s *followStream) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	delete(s.f.streams, s)
	close(s.c)
}

// offer queues e, dropping the oldest queued event when full; f.mu is
// held, so nothing else sends on s.c meanwhile.
func (s *followStream) offer(e rollout.Event) {
	for {
		select {
		case s.c <- e:
			return
		default:
		}
		select {
		case <-s.c:
			s.dropped.Add(1)
		default:
		}
	}
}
