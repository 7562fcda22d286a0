package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
)

// fencedStore is a store whose state writes and event appends are fenced
// by a lease, as redisstore.FencedStore's: once lost is set, another
// gateway holds it.
type fencedStore struct {
	Store
	lost    atomic.Bool
	refused atomic.Int32
}

func (s *fencedStore) CompareAndSetState(ctx context.Context, v uint64, b []byte) (uint64, error) {
	if s.lost.Load() {
		s.refused.Add(1)
		return 0, fmt.Errorf("fenced: %w", store.ErrLeaseLost)
	}
	return s.Store.CompareAndSetState(ctx, v, b)
}

func (s *fencedStore) AppendEvent(ctx context.Context, e store.Event) (uint64, error) {
	if s.lost.Load() {
		return 0, fmt.Errorf("fenced: %w", store.ErrLeaseLost)
	}
	return s.Store.AppendEvent(ctx, e)
}

func (s *fencedStore) Unfenced() store.Store { return s.Store.(store.Store) }

func fencedHarness(t *testing.T) (*harness, *fencedStore) {
	var fs *fencedStore
	h := newHarness(t, func(o *Options) {
		fs = &fencedStore{Store: o.Store}
		o.Store = fs
	})
	return h, fs
}

// storedState is the state in the harness's store.
func (h *harness) storedState() State {
	h.t.Helper()
	stored, err := h.store.GetState(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	st, err := decodeState(stored.Blob)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// isDriving says whether the driver runs.
func (c *Controller) isDriving() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.driving
}

// TestLeaseLostStopsTheDriver: the driver's write is refused because
// another gateway holds the store now. Retrying cannot succeed, and the
// driver would go on moving sessions for a rollout another gateway runs:
// it stops.
func TestLeaseLostStopsTheDriver(t *testing.T) {
	h, fs := fencedHarness(t)
	h.shifter.before = func(_ context.Context, w router.Weight) error {
		if w == 1000 { // step 1's moves: the lease is taken meanwhile
			fs.lost.Store(true)
		}
		return nil
	}
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fs.refused.Load() == 0 || h.c.isDriving() {
		if time.Now().After(deadline) {
			t.Fatalf("the driver still runs after %d refused writes", fs.refused.Load())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if n := fs.refused.Load(); n != 1 {
		t.Errorf("%d writes refused for want of the lease, want 1 (no retry)", n)
	}
}

// TestCommandOfALostLeaseFails: a command, or a weight set by hand, on a
// gateway whose lease is another's fails with store.ErrLeaseLost and
// changes nothing.
func TestCommandOfALostLeaseFails(t *testing.T) {
	h, fs := fencedHarness(t)
	fs.lost.Store(true)
	if _, err := h.c.Start(ctx, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Start: %v, want ErrLeaseLost", err)
	}
	if st := h.c.Status(); st.Phase != Idle {
		t.Fatalf("phase %s after the refused start, want idle", st.Phase)
	}
	err := h.c.SetWeightByHand(ctx, router.Weight(6000), func(context.Context) error {
		_, _, err := h.shifter.SetWeight(ctx, router.Weight(6000))
		return err
	})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("SetWeightByHand: %v, want ErrLeaseLost", err)
	}
	if w := h.c.Status().Weight; w != 0 {
		t.Fatalf("status weight %v after the refused weight, want 0", w)
	}
}

// TestEmergencyRollbackOfALostLeaseIsStored: the emergency's state
// overwrites what is stored, from any gateway, the lease held or not.
func TestEmergencyRollbackOfALostLeaseIsStored(t *testing.T) {
	h, fs := fencedHarness(t)
	h.startStuckAt(1000)
	fs.lost.Store(true)
	if _, err := h.c.EmergencyRollback(ctx); err != nil {
		t.Fatal(err)
	}
	if st := h.storedState(); st.Phase != RollingBack || !st.Emergency {
		t.Fatalf("stored %s (emergency %v) after an emergency rollback without the lease, want it stored", st.Phase, st.Emergency)
	}
}

// TestEmergencyEventsOfALostLeaseAreStored: an emergency rollback's
// events are appended as its state is written, whoever holds the lease:
// the other gateways relay them, and an operator watching the rollout
// must see why every session went back to blue.
func TestEmergencyEventsOfALostLeaseAreStored(t *testing.T) {
	h, fs := fencedHarness(t)
	h.startStuckAt(1000)
	fs.lost.Store(true)
	if _, err := h.c.EmergencyRollback(ctx); err != nil {
		t.Fatal(err)
	}
	evs := h.storedEvents()
	if n := len(evs); n == 0 || evs[n-1].Kind != EventRollbackStarted || !evs[n-1].Emergency {
		t.Fatalf("stored events %v after an emergency rollback without the lease, want its rollback_started last", eventKinds(evs))
	}
}
