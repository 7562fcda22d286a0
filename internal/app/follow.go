package app

import (
	"context"
	"encoding/json"
	"errors"
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
		v, ok := f.readState(ctx, version)
		version = v // a version it cannot read too: warned of once
		if ok {
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

// readHolder learns who holds the store now, and how it routes: a
// gateway that took it since (the holder went, another or the same one
// took it back) is the one this follower's refusals and status must
// name, and whose routing they must judge, before this follower's next
// campaign, a third of its lease away. A lease found free (the holder
// gone, nobody in it yet) keeps the last holder.
func (f *follower) readHolder(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, followInterval*4)
	held, err := f.a.rstore.Holder(rctx)
	cancel()
	if err != nil || held == nil {
		return
	}
	f.setHolder(held.Owner)
	f.checkRouting(held)
}

// setHolder makes owner the holder this follower names, logging a change.
func (f *follower) setHolder(owner string) {
	if old := f.holder.Swap(&owner); *old != owner {
		f.a.log.Info("rollout.store: held by another gateway now; following its rollout", "holder", owner, "holder_admin", holderAdmin(owner), "was", *old)
	}
}

// readState reads the stored state; ok when its version is not seen and
// it could be read. The version it returns is the one to call seen next
// time: a stored state it cannot read is passed over until the next.
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
