package rollout

import (
	"context"
	"errors"
	"fmt"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
)

// SetWeightByHand runs set, an operator's change to weight w, unless a
// rollout is active (a *TransitionError for OpSetWeight), and keeps a
// rollout from starting until w is stored: the check and the change are
// one step, so a rollout cannot start between them and have its step
// undone by hand. Then it stores w as the weight the gateway stands at,
// even when set failed (the weight is applied before the moves), so that
// a restart comes back to it (see New); but not when set's error matches
// gateway.ErrNotApplied (set gave up before applying w, see Shifter): then
// it stores nothing and returns that error. A store that fails loses only
// that, and is logged. A controller closed while set ran stores nothing
// and returns ErrClosed, and one whose store's lease is another gateway's
// fails with store.ErrLeaseLost: set's weight is applied but not kept.
//
// set's context ends with ctx, and when the controller closes: w would
// then be stored nowhere (with a shared store, the gateway that follows
// applies the stored weight again), so its moves are not worth waiting
// for.
func (c *Controller) SetWeightByHand(ctx context.Context, w router.Weight, set func(context.Context) error) error {
	_, err := c.SetWeightByHandStored(ctx, w, set)
	return err
}

// SetWeightByHandStored is SetWeightByHand, and also returns the version
// of the state it stored w in, 0 when it stored nothing: a later write
// may already have overtaken w by the time it returns (a rollout started
// at once), and a store's other readers tell by that version whether
// they have gone past w.
func (c *Controller) SetWeightByHandStored(ctx context.Context, w router.Weight, set func(context.Context) error) (uint64, error) {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return 0, ErrClosed
	case c.st.Phase.Active():
		c.mu.Unlock()
		return 0, &TransitionError{Op: OpSetWeight, Phase: c.st.Phase}
	case c.starting:
		c.mu.Unlock()
		return 0, &TransitionError{Op: OpSetWeight, Phase: Preparing}
	}
	c.byHand++
	c.mu.Unlock()
	c.stopRestore()
	sctx, stop := context.WithCancel(ctx)
	stopOnClose := context.AfterFunc(c.ctx, stop)
	err := set(sctx)
	stopOnClose()
	stop()
	if errors.Is(err, gateway.ErrNotApplied) {
		// Stored, w would be applied by the followers, and by a restart,
		// though this gateway never had it.
		c.mu.Lock()
		c.byHand--
		c.mu.Unlock()
		return 0, err
	}

	c.ioMu.Lock()
	defer c.ioMu.Unlock()
	c.flush(ctx)
	c.mu.Lock()
	next, gen, closed := c.st.clone(), c.gen, c.closed
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.byHand--
		c.mu.Unlock()
	}()
	if closed {
		// Closed meanwhile (its gateway lost the store, or stops): w is
		// not stored, and the operator must not be told it is set.
		return 0, ErrClosed
	}
	if next.Phase.Active() {
		// An emergency rollback began meanwhile: its state is the one to
		// keep.
		return 0, err
	}
	next.Weight = w
	if perr := c.persist(context.WithoutCancel(ctx), &next); perr != nil {
		if errors.Is(perr, store.ErrLeaseLost) {
			// Another gateway runs the rollout: w stays nowhere but here,
			// and the operator must not be told it is set.
			return 0, fmt.Errorf("rollout: %s: %w", OpSetWeight, perr)
		}
		c.log.Warn("rollout: the weight set by hand is applied but not stored; a restart will not come back to it", "weight", w, "err", perr)
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.st = next
		c.publishSnap()
	}
	return c.version, err
}
