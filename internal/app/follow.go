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
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/redisstore"
)

// Several gateways on one Redis store (rollout.store.when_held: follow):
// the one holding the store's lease runs the rollout controller; each
// other one follows it. A follower serves its clients, applies every
// weight the holder stores (moving its own sessions, paced by its own
// handover settings, unpaced in an emergency, recording what it applied
// for the holder: stepsync.go), shows the holder's rollout and relays its events,
// and refuses commands (admin.ErrFollowing). It tries the lease every
// third of its TTL and, once it holds it, stops following and runs the
// controller, which resumes the rollout where the store has it. A holder
// that loses the lease to another gateway follows it in turn (demote).

// followInterval is how often a follower reads the stored state and
// events.
const followInterval = 250 * time.Millisecond

// maxFollowEventsPerRead bounds one read of the stored events.
const maxFollowEventsPerRead = 256

// role is the admin API's rollout: the controller once this gateway runs
// it, the follower's view before.
type role struct {
	ctrl atomic.Pointer[rollout.Controller]
	// f is nil for a gateway that has run the controller from the start;
	// a gateway that loses the store to another gets a new one. It is set
	// before ctrl is cleared: a reader that finds no controller finds it.
	f atomic.Pointer[follower]
	// synced, with a Redis store, makes a weight set by hand on the
	// holder wait for the followers, as a step does; nil otherwise.
	synced *syncedShifter
	// byHand is read-held by a weight set by hand while it runs on a
	// controller, and held by a follower that took the store while it
	// starts its own (takeOver): a demoted gateway that takes the store
	// back restores the stored weight after a weight set by hand on the
	// controller it lost, not before, which would leave the gateway at a
	// weight stored nowhere.
	byHand sync.RWMutex
}

var _ admin.Rollout = (*role)(nil)

func (r *role) controller() *rollout.Controller { return r.ctrl.Load() }

func (r *role) follower() *follower { return r.f.Load() }

// command runs do on the controller, or refuses it on a follower.
func (r *role) command(do func(*rollout.Controller) (rollout.State, error)) (rollout.State, error) {
	if c := r.ctrl.Load(); c != nil {
		st, err := do(c)
		return st, leaseLost(err)
	}
	f := r.follower()
	return f.state(), f.refusal()
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

// SetWeightByHand on the holder of a Redis store returns once the live
// followers have applied w too (at most followersWait), as a step waits
// for them; a weight that was not stored reaches no follower, and is not
// waited for. Nor is it by a follower that has applied, or is applying, a
// later stored weight (a rollout started right after w was stored): it
// skipped w, and a wait for it would last followersWait.
//
// set's context also ends when the controller closes (a demotion: see
// rollout.Controller.SetWeightByHand), so that neither the operator nor a
// take-back waits for moves to a weight stored nowhere.
func (r *role) SetWeightByHand(ctx context.Context, w router.Weight, set func(context.Context) error) error {
	if !r.byHand.TryRLock() {
		// takeOver holds it, or waits for a weight set by hand on the
		// controller this gateway lost: the lease is this gateway's and
		// no controller runs yet. Waiting here would last as long as
		// that weight's moves.
		return admin.ErrTakingOver
	}
	c := r.ctrl.Load()
	if c == nil {
		r.byHand.RUnlock()
		return r.follower().refusal()
	}
	if r.synced == nil {
		defer r.byHand.RUnlock()
		return r.closedMidway(c.SetWeightByHand(ctx, w, set))
	}
	stored, err := c.SetWeightByHandStored(ctx, w, set)
	err = r.closedMidway(err)
	r.byHand.RUnlock()
	if err != nil {
		return leaseLost(err)
	}
	if stored > 0 {
		_, _, _ = r.synced.waitFollowers(ctx, w, stored, true) // only ctx's end cuts it short: the weight is set
	}
	return nil
}

// closedMidway turns err, from the controller, into the follower's refusal
// when it was closed by a demotion while a weight set by hand ran: that
// weight, applied but not stored, is undone by the follower, which
// applies the stored one again.
func (r *role) closedMidway(err error) error {
	if !errors.Is(err, rollout.ErrClosed) || r.ctrl.Load() != nil {
		return err
	}
	f := r.follower()
	f.resync.Store(true)
	// Not ErrTakingOver, even during a take-back that waits for it: this
	// weight was lost with the store, not refused as too soon.
	return f.following()
}

// leaseLost turns err, from the controller, into a follower's refusal
// when its write found the store's lease another gateway's: the command
// was not stored, the other gateway runs the rollout, and this one is
// being demoted (the write lost the lease: holdOrFollow).
func leaseLost(err error) error {
	if !errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	var refusal error = admin.ErrFollowing
	if held, ok := errors.AsType[*redisstore.HeldError](err); ok {
		refusal = followingError(held.Owner)
	}
	return fmt.Errorf("%w: rollout.store was taken by another gateway before this one noticed: %w", refusal, err)
}

func (r *role) Status() rollout.State {
	if c := r.ctrl.Load(); c != nil {
		return c.Status()
	}
	return r.follower().state()
}

func (r *role) Subscribe(buffer int) admin.EventStream {
	if c := r.ctrl.Load(); c != nil {
		return c.Subscribe(buffer)
	}
	return r.follower().events.Subscribe(buffer)
}

var _ admin.Resubscriber = (*role)(nil)

// Resubscribe is Subscribe for a stream whose source changed (this
// gateway took the store, or lost it): the new source's events from its
// beginning come first, so that none made before the stream's switch
// (the new controller's recovered event) is lost.
func (r *role) Resubscribe(buffer int) admin.EventStream {
	if c := r.ctrl.Load(); c != nil {
		return c.SubscribeWithHistory(buffer)
	}
	return r.follower().events.SubscribeWithHistory(buffer)
}

// follower is a gateway's part while another holds the store.
type follower struct {
	a      *App
	holder atomic.Pointer[string]
	st     atomic.Pointer[rollout.State]
	// mismatch says how the holder's routing differs from this gateway's
	// (routing.go); empty when it does not, or cannot tell.
	mismatch atomic.Pointer[string]

	// events relays the holder's stored events; closed once this
	// gateway takes the store, so that its readers come back to the
	// controller's.
	events rollout.Feed

	// resync makes run apply the stored state again although its
	// version is seen: a weight set by hand on this gateway's controller
	// while it was closed moved the gateway off it.
	resync atomic.Bool

	// emergencyFor is the rollout whose emergency rollback this follower
	// has begun (run's goroutine only).
	emergencyFor string

	// takingOver is set while takeOver holds the lease and has not
	// started the controller yet: commands are refused as being too soon,
	// not sent to the holder that went.
	takingOver atomic.Bool

	opMu     sync.Mutex
	cancelOp context.CancelFunc // the applier's weight change in progress

	recMu sync.Mutex
	rec   appliedRecord // what this follower has applied, for the holder
	recAt time.Time     // its last write
}

func newFollower(a *App, holder string) *follower {
	f := &follower{a: a}
	f.holder.Store(&holder)
	f.mismatch.Store(new(string))
	idle := rollout.State{Phase: rollout.Idle}
	f.st.Store(&idle)
	return f
}

func (f *follower) state() rollout.State { return *f.st.Load() }

// refusal is a command's answer on this gateway while it has no
// controller.
func (f *follower) refusal() error {
	if f.takingOver.Load() {
		return admin.ErrTakingOver
	}
	return f.following()
}

// following says that another gateway runs the rollout, and which.
func (f *follower) following() error { return followingError(*f.holder.Load()) }

// followingError refuses a request for holder, the lease owner's name.
func followingError(holder string) *admin.FollowingError {
	return &admin.FollowingError{Holder: holder, HolderAdmin: holderAdmin(holder)}
}

// run follows the holder until ctx ends or this gateway takes the store
// and starts the controller; then it returns the lease it took.
func (f *follower) run(ctx context.Context) *redisstore.Lease {
	a := f.a
	want := make(chan applyReq, 1)
	var (
		stopFollowing context.CancelFunc
		applier       sync.WaitGroup
	)
	follow := func() {
		var fctx context.Context
		fctx, stopFollowing = context.WithCancel(ctx)
		applier.Go(func() { f.apply(fctx, want) })
	}
	stop := func() {
		stopFollowing()
		applier.Wait()
		select {
		case <-want: // a weight not taken yet: the stored state is offered again (resync)
		default:
		}
	}
	follow()
	defer stop()

	// Sessions off the weight's backend count as failed moves, so that
	// the first stored state tries them (retries): a holder that lost the
	// store mid-step has its step's moves called off.
	w := a.gw.Status().Weight
	toBlue, toGreen := a.gw.WouldMove(w)
	f.setRecord(ctx, appliedRecord{W: w, Failed: toBlue + toGreen})
	lastEvent := f.newestEvent(ctx)
	var version uint64
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	campaign := time.Now().Add(a.cfg.Rollout.Store.Lease / 3)
	for {
		if f.resync.Swap(false) {
			version = 0
		}
		if v, ok := f.readState(ctx, version); ok {
			version = v
			st := f.state()
			req, urgent := applyReq{w: st.Weight, v: v}, false
			if st.Phase == rollout.RollingBack && st.Emergency {
				req.pace = rollout.Unpaced
				urgent = f.emergencyFor != st.ID
				f.emergencyFor = st.ID
			}
			f.offer(want, req, urgent)
		}
		f.checkNotice(ctx, want)
		f.readHolder(ctx)
		f.refreshRecord(ctx)
		lastEvent = f.relayEvents(ctx, lastEvent)
		if !time.Now().Before(campaign) {
			campaign = time.Now().Add(a.cfg.Rollout.Store.Lease / 3)
			if l := f.takeOver(ctx, stop, follow, &lastEvent); l != nil {
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

// holdOrFollow watches the store's lease while this gateway holds it, and
// follows the holder while another does, until ctx ends. A lease lost to
// another gateway is sent on leaseLost (Serve stops), unless when_held is
// follow: then this gateway follows the one that took it, as it would
// had it started second, its clients served throughout.
func (a *App) holdOrFollow(ctx context.Context, leaseLost chan<- error) {
	for {
		l := a.heldLease()
		if l == nil {
			if l = a.role.follower().run(ctx); l == nil {
				return
			}
		}
		if !a.hold(ctx, l) {
			return
		}
		if a.cfg.Rollout.Store.WhenHeld != config.WhenHeldFollow {
			leaseLost <- l.Err()
			return
		}
		a.demote(l)
	}
}

// hold runs the controller's side of the store while this gateway holds
// lease l: every followInterval, the controller adopts a state another
// gateway stored over its own (an emergency rollback made by a gateway
// that lost the lease without noticing, or at its demotion), as a
// follower would apply it. It returns true once l is lost, false when
// ctx ends.
func (a *App) hold(ctx context.Context, l *redisstore.Lease) bool {
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-l.Lost():
			return true
		case <-tick.C:
		}
		if c := a.role.controller(); c != nil {
			rctx, cancel := context.WithTimeout(ctx, followInterval*4)
			_ = c.Refresh(rctx) // the store away: the next tick tries again
			cancel()
		}
	}
}

// demote makes this gateway, whose lease l was lost, a follower of the
// gateway that took it. Its controller stops where it stands, as at a
// shutdown: the new holder resumes from the store. Its sessions stay.
func (a *App) demote(l *redisstore.Lease) {
	holder := "another gateway"
	if held, ok := errors.AsType[*redisstore.HeldError](l.Err()); ok {
		holder = held.Owner
	}
	a.log.Warn("rollout.store: taken by another gateway; following its rollout, clients still served", "holder", holder, "holder_admin", holderAdmin(holder))
	rctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	_ = l.Release(rctx) // deletes the key only where a renewal took it back after the loss
	cancel()
	a.setLease(nil)
	a.role.f.Store(newFollower(a, holder))
	if c := a.role.ctrl.Swap(nil); c != nil {
		_ = c.Close()
	}
	// A follower keeps no standbys (the controller kept them during a
	// rollout): the new holder's steps reach it as weights.
	a.gw.KeepStandby(false)
}

// noticeApplies says whether notice n calls for an emergency rollback of
// this follower, whose stored state is st and which has begun the
// emergency of rollout begun: only for the state's rollout, not yet
// begun, and with the state last written before the notice.
func noticeApplies(n emergencyNotice, st rollout.State, begun string) bool {
	return n.ID != "" && n.ID == st.ID && begun != n.ID && st.UpdatedAt.Before(n.At)
}

// applyReq is a weight for the applier: the stored state's version it
// comes from (0 for the emergency notice) and its pace.
type applyReq struct {
	w    router.Weight
	v    uint64
	pace int
}

// offer hands req to the applier, replacing one not applied yet; an
// urgent one (an emergency) also calls off the change in progress.
func (f *follower) offer(want chan applyReq, req applyReq, urgent bool) {
	select {
	case <-want:
	default:
	}
	if urgent {
		f.opMu.Lock()
		if f.cancelOp != nil {
			f.cancelOp()
		}
		f.opMu.Unlock()
	}
	want <- req
}

// checkNotice acts on the holder's emergency notice: when the stored
// state is still the notice's rollout as it was before the emergency,
// every session moves to blue at once. A notice the state has overtaken
// (written after it, or another rollout) moves nobody: the state rules.
func (f *follower) checkNotice(ctx context.Context, want chan applyReq) {
	n, ok := f.a.readNotice(ctx)
	if !ok || !noticeApplies(n, f.state(), f.emergencyFor) {
		return
	}
	f.emergencyFor = n.ID
	f.a.log.Warn("follower: the holder began an emergency rollback; moving every session to blue", "rollout", n.ID)
	f.offer(want, applyReq{w: 0, pace: rollout.Unpaced}, true)
}

// readHolder learns who holds the store now: a gateway that took it
// since (the holder went, another or the same one took it back) is the
// one this follower's refusals and status must name, before this
// follower's next campaign, a third of its lease away. A lease found
// free (the holder gone, nobody in it yet) keeps the last name.
func (f *follower) readHolder(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, followInterval*4)
	owner, err := f.a.rstore.Owner(rctx)
	cancel()
	if err != nil || owner == "" {
		return
	}
	f.setHolder(owner)
}

// setHolder makes owner the holder this follower names, logging a change.
func (f *follower) setHolder(owner string) {
	if old := f.holder.Swap(&owner); *old != owner {
		f.a.log.Info("rollout.store: held by another gateway now; following its rollout", "holder", owner, "holder_admin", holderAdmin(owner), "was", *old)
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

// apply moves this gateway's sessions to each weight the holder stores,
// and records what it applied for the holder (setRecord).
func (f *follower) apply(ctx context.Context, want <-chan applyReq) {
	a := f.a
	for {
		var req applyReq
		select {
		case <-ctx.Done():
			return
		case req = <-want:
		}
		if req.pace != rollout.Unpaced && a.gw.Status().Weight == req.w && !f.retries(req) {
			switch r := f.record(); {
			case r.W != req.w || r.Busy:
				f.setRecord(ctx, appliedRecord{W: req.w, V: req.v})
			case r.V == 0 && req.v > 0: // moved by the notice: the state's change
				r.V = req.v
				f.setRecord(ctx, r)
			}
			continue
		}
		if req.pace != rollout.Unpaced {
			f.setRecord(ctx, appliedRecord{W: req.w, V: req.v, Busy: true})
		}
		opCtx, cancel := context.WithCancel(ctx)
		f.opMu.Lock()
		f.cancelOp = cancel
		f.opMu.Unlock()
		moved, failed, err := a.gw.SetWeightPaced(opCtx, req.w, req.pace)
		superseded := opCtx.Err() != nil
		f.opMu.Lock()
		f.cancelOp = nil
		f.opMu.Unlock()
		cancel()
		if err != nil && ctx.Err() != nil {
			return
		}
		a.log.Info("follower: applied the holder's weight", "weight_percent", req.w.Percent(), "unpaced", req.pace == rollout.Unpaced, "moved", moved, "failed", failed, "err", err)
		if !superseded { // else the next request records
			f.setRecord(ctx, appliedRecord{W: req.w, V: req.v, Moved: moved, Failed: failed})
		}
	}
}

// retries says whether req, at the weight this follower stands at, is to
// be applied again: some of its moves to that weight failed (or were
// never done: see run), and the holder has written its state since. The
// holder's own failed moves are tried again whenever it sets a weight,
// the same one included (a weight set by hand again, a rollback's
// retries); a follower sees only its writes, and without this its
// sessions would stay misplaced until the weight changes.
func (f *follower) retries(req applyReq) bool {
	r := f.record()
	return r.W == req.w && !r.Busy && r.Failed > 0 && req.v != 0 && req.v != r.V
}

// recordRefresh is how often a follower writes its record again, so that
// it outlives no follower and expires with a gone one.
const recordRefresh = time.Second

func (f *follower) record() appliedRecord {
	f.recMu.Lock()
	defer f.recMu.Unlock()
	return f.rec
}

// setRecord makes r this follower's record and writes it.
func (f *follower) setRecord(ctx context.Context, r appliedRecord) {
	f.recMu.Lock()
	defer f.recMu.Unlock()
	f.rec = r
	f.writeRecordLocked(ctx)
}

// refreshRecord writes the record again every recordRefresh. Its failed
// moves are brought down to the sessions still misplaced: the gateway
// retries them on its own (internal/gateway, retry.go), and the holder
// reports what the records say.
func (f *follower) refreshRecord(ctx context.Context) {
	f.recMu.Lock()
	defer f.recMu.Unlock()
	if time.Since(f.recAt) < recordRefresh {
		return
	}
	if r := &f.rec; !r.Busy && r.Failed > 0 {
		toBlue, toGreen := f.a.gw.WouldMove(r.W)
		r.Failed = min(r.Failed, toBlue+toGreen)
	}
	f.writeRecordLocked(ctx)
}

func (f *follower) writeRecordLocked(ctx context.Context) {
	a := f.a
	b, err := json.Marshal(f.rec)
	if err != nil || a.exch == nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, followInterval*4)
	defer cancel()
	if err := a.redis.Set(wctx, a.appliedKey(a.exch.id), b, a.exch.ttl()).Err(); err != nil {
		if ctx.Err() == nil {
			a.log.Debug("follower: applied weight not recorded", "err", err)
		}
		return
	}
	f.recAt = time.Now()
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
		f.events.Publish(e)
	}
	return last
}

// testHookHandSetHoldsTakeOver, when set, runs when takeOver, holding the
// lease, is about to wait for any weight being set by hand on the
// controller this gateway lost: tests apply one then.
var testHookHandSetHoldsTakeOver func()

// takeOver tries the lease; with it, it stops following (stop), relays
// the events stored after *lastEvent, and starts the controller, and
// returns the lease. Nil: this gateway still follows, its applier started
// again (follow) if it was stopped.
func (f *follower) takeOver(ctx context.Context, stop, follow func(), lastEvent *uint64) *redisstore.Lease {
	a := f.a
	actx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	self := leaseOwner(a.cfg.Admin.Listen)
	lease, err := a.rstore.Acquire(actx, self, a.leaseOptions())
	cancel()
	if held, ok := errors.AsType[*redisstore.HeldError](err); ok {
		f.setHolder(held.Owner)
		f.checkRouting(held)
		return nil
	}
	if err != nil {
		return nil // Redis away: try again at the next round
	}
	// A command refused while the controller starts (a weight set by hand
	// on the one this gateway lost) is to come back here, not to go to
	// the gateway that went.
	was := f.holder.Swap(&self)
	f.takingOver.Store(true)
	// The weights are the controller's from here: no move of the
	// follower's may run beside its restore.
	stop()
	if testHookHandSetHoldsTakeOver != nil {
		testHookHandSetHoldsTakeOver()
	}
	// What the old holder stored after the last read (its last moments)
	// reaches the relayed streams before they end (end): they go on with
	// the controller's feed, which has only its own events. Read before
	// the controller starts, so that its recovered event comes once.
	*lastEvent = f.relayEvents(ctx, *lastEvent)
	a.role.byHand.Lock()
	defer a.role.byHand.Unlock()
	ctrl, err := rollout.New(ctx, a.controllerOptions(lease))
	if err != nil {
		_ = lease.Release(context.WithoutCancel(ctx))
		// The lease is free now: its last holder is the name to keep
		// until another takes it (readHolder).
		f.holder.Store(was)
		// The stored state's weight, or the emergency notice's, may have
		// been offered to the applier just stopped, and not applied: the
		// next round offers them again.
		f.resync.Store(true)
		f.emergencyFor = ""
		f.takingOver.Store(false)
		follow()
		a.log.Error("follower: took the store but could not start the controller; following again", "err", err)
		return nil
	}
	a.setLease(lease)
	a.role.ctrl.Store(ctrl)
	f.end()
	a.log.Info("took rollout.store: this gateway runs the rollout now", "phase", ctrl.Status().Phase)
	return lease
}

// checkRouting compares the routing of held's holder with this gateway's.
// A follower was refused at startup by a holder that routes otherwise;
// one that finds such a holder later (it took the store when the last one
// went) serves on, and says so loudly: in the log, each time the holder or
// the difference changes, and in the status.
func (f *follower) checkRouting(held *redisstore.HeldError) {
	msg := ""
	d := routingDiffers(routingMeta(f.a.cfg.Routing), held.Meta)
	if d != nil {
		msg = routingMismatch(d, held.Owner)
	}
	if old := f.mismatch.Swap(&msg); *old == msg {
		return
	}
	if msg == "" {
		f.a.log.Info("rollout.store: the holder routes users as this gateway does", "holder", held.Owner)
		return
	}
	f.a.log.Error("rollout.store: "+msg+"; users are placed differently depending on the gateway they reach, and the rollout's counts are wrong: give every gateway on the store the same routing settings", "differ", d, "holder", held.Owner)
}

// end closes the relayed streams: their readers come back to the
// controller's.
func (f *follower) end() { f.events.Close() }
