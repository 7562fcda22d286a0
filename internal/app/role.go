package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/redisstore"
)

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
