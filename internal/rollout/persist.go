package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/baton-rt/baton/internal/store"
)

// load reads the stored state; no state yet is idle.
func (c *Controller) load(ctx context.Context) (State, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StoreTimeout)
	defer cancel()
	stored, err := c.opts.Store.GetState(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return State{Phase: Idle}, 0, nil
	}
	if err != nil {
		return State{}, 0, fmt.Errorf("rollout: load state: %w", err)
	}
	st, err := decodeState(stored.Blob)
	if err != nil {
		return State{}, 0, err
	}
	return st, stored.Version, nil
}

// flush stores what an emergency rollback did without waiting for the
// store: the state, then its events. ioMu is held, mu is not.
func (c *Controller) flush(ctx context.Context) {
	c.mu.Lock()
	evs, unstored, cur, gen := c.pending, c.unstored, c.st.clone(), c.gen
	c.pending = nil
	c.mu.Unlock()
	if unstored {
		// Unfenced: the emergency is stored even by a gateway that has
		// lost the store's lease (a demotion's Close), since the next
		// holder would otherwise undo it.
		err := c.persistTo(ctx, c.unfenced, &cur)
		if errors.Is(err, store.ErrConflict) {
			// Another writer changed the stored state meanwhile; the
			// emergency overwrites it.
			var stored store.State
			if stored, err = c.readStored(ctx); err == nil {
				c.version = stored.Version
				err = c.persistTo(ctx, c.unfenced, &cur)
			}
		}
		if err != nil {
			c.log.Error("rollout: emergency rollback not stored, acting anyway", "err", err)
		} else {
			c.mu.Lock()
			if c.gen == gen {
				c.unstored = false
			}
			c.mu.Unlock()
		}
	}
	// Unfenced too: pending holds only an emergency's events, which the
	// other gateways relay as they apply its state.
	c.recordTo(c.unfenced, evs)
}

// readStored reads the stored state again, within the store timeout.
func (c *Controller) readStored(ctx context.Context) (store.State, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StoreTimeout)
	defer cancel()
	stored, err := c.opts.Store.GetState(ctx)
	if err != nil {
		return store.State{}, fmt.Errorf("rollout: reload state: %w", err)
	}
	return stored, nil
}

// persist writes st with compare-and-set on the version the controller
// holds. ioMu is held.
func (c *Controller) persist(ctx context.Context, st *State) error {
	return c.persistTo(ctx, c.opts.Store, st)
}

// persistTo is persist to s: the store, or its state unfenced.
func (c *Controller) persistTo(ctx context.Context, s store.StateStore, st *State) error {
	st.UpdatedAt = c.now()
	blob, err := encodeState(*st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StoreTimeout)
	defer cancel()
	v, err := s.CompareAndSetState(ctx, c.version, blob)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Perhaps with an unsure write: reload tells.
		return err
	case errors.Is(err, store.ErrLeaseLost):
		return err // nothing written
	case err != nil:
		c.noteUnsure(unsureWrite{version: c.version + 1, blob: blob})
		return err
	}
	c.version, c.unsure = v, nil
	return nil
}

// maxUnsure bounds the unsure writes kept for one version.
const maxUnsure = 8

// noteUnsure adds w to the writes that may have been made. Each retry of a
// transition while the store is away is one more, and any one of them (at
// most one: they all expect the same version) may be the write that
// landed, so a later attempt does not replace an earlier one. Beyond
// maxUnsure the oldest but the first go: the first is the write in flight
// when the store went away, the likeliest to have been made. ioMu is held.
func (c *Controller) noteUnsure(w unsureWrite) {
	if len(c.unsure) > 0 && c.unsure[0].version != w.version {
		c.unsure = c.unsure[:0] // for a version that was since overtaken
	}
	if len(c.unsure) == maxUnsure {
		c.unsure = slices.Delete(c.unsure, 1, 2)
	}
	c.unsure = append(c.unsure, w)
}

// unsureWrite is a state write whose failure may not be one: the version
// and blob it would have made, and the transition's events, to emit if it
// turns out to have been made.
type unsureWrite struct {
	version uint64
	blob    []byte
	from    Phase
	evs     []Event
}

// maybeMade notes the events of a transition whose write failed with err
// but may still land. ioMu is held.
func (c *Controller) maybeMade(from Phase, evs []Event, err error) {
	if errors.Is(err, store.ErrLeaseLost) {
		return // refused: it never lands
	}
	if n := len(c.unsure); n > 0 {
		c.unsure[n-1].from, c.unsure[n-1].evs = from, evs
	}
}

// Refresh adopts the stored state when another writer has changed it
// since this controller's last write, as a conflict at its next write
// would: with a store that several gateways share, the write another may
// make is an emergency rollback's (Unfencer), which must not wait for this
// controller's next transition (the end of a step's hold, say). A store
// with no state yet, or one that fails, changes nothing.
func (c *Controller) Refresh(ctx context.Context) error {
	stored, err := c.readStored(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.ioMu.Lock()
	defer c.ioMu.Unlock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed || stored.Version <= c.version {
		// Read before this controller's own later write, or unchanged.
		return nil
	}
	return c.reload(ctx)
}

// reload adopts the stored state after a conflict: someone else (another
// gateway, an operator tool) wrote it, so their decision wins over ours.
// ioMu is held, mu is not.
func (c *Controller) reload(ctx context.Context) error {
	stored, err := c.readStored(ctx)
	if err != nil {
		return err
	}
	st, err := decodeState(stored.Blob)
	if err != nil {
		return &UnreadableStateError{Version: stored.Version, Err: err}
	}
	c.version = stored.Version
	unsure := c.unsure
	c.unsure = nil
	c.mu.Lock()
	if c.unstored {
		// An emergency rollback acted meanwhile and is not stored yet: it
		// wins over the other writer, and flush writes it over this
		// version.
		c.mu.Unlock()
		return nil
	}
	from := c.st.Phase
	evs := []Event{{Kind: EventReloaded,
		Message: fmt.Sprintf("stored state changed by another writer (version %d): now %s at step %d", stored.Version, st.Phase, st.Step)}}
	for _, own := range unsure {
		if own.version == stored.Version && bytes.Equal(own.blob, stored.Blob) {
			// Our own write, reported failed, was made after all: its
			// transition happened, with its events and alerts.
			from, evs = own.from, own.evs
			break
		}
	}
	c.applyLocked(st)
	evs = c.stamp(from, st, evs)
	c.announce(evs) // in transition order, as in applyIfCurrent
	c.mu.Unlock()
	c.record(evs)
	return nil
}

// UnreadableStateError is a stored state, written by another gateway, that
// this controller cannot decode (a newer build's, say): it keeps its own.
type UnreadableStateError struct {
	Version uint64 // the stored version
	Err     error
}

func (e *UnreadableStateError) Error() string {
	return fmt.Sprintf("rollout: stored state version %d cannot be read: %v", e.Version, e.Err)
}

func (e *UnreadableStateError) Unwrap() error { return e.Err }
