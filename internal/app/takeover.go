package app

import (
	"context"
	"errors"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/store/redisstore"
)

// The store's lease, from the holder's side: holding it (and adopting a
// state another gateway stored over this one's), losing it to another
// gateway (demote: this gateway follows it), and a follower taking it
// over (takeOver: the controller starts where the store has the rollout).

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
	var unreadable uint64 // the stored version last warned of
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
			err := c.Refresh(rctx)
			cancel()
			unreadable = a.warnUnreadable(err, unreadable)
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
	self := a.owner()
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

// warnUnreadable warns, once per stored version, of a state stored over
// the holder's that its Refresh could not decode (err, a
// *rollout.UnreadableStateError): a newer build's emergency rollback
// during an upgrade, which this gateway cannot adopt. Other errors (the
// store away) are tried again at the next tick, quietly. It returns the
// version warned of last.
func (a *App) warnUnreadable(err error, warned uint64) uint64 {
	ue, ok := errors.AsType[*rollout.UnreadableStateError](err)
	if !ok || ue.Version == warned {
		return warned
	}
	a.log.Warn("rollout.store: a state stored over this gateway's cannot be read; it is not adopted", "version", ue.Version, "err", ue.Err)
	return ue.Version
}
