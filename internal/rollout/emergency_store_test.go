package rollout

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
)

// hangingStore makes state writes and event appends wait for their
// context's end while hang is set: a store that stopped answering.
type hangingStore struct {
	Store
	hang atomic.Bool
}

func (s *hangingStore) CompareAndSetState(ctx context.Context, v uint64, b []byte) (uint64, error) {
	if s.hang.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return s.Store.CompareAndSetState(ctx, v, b)
}

func (s *hangingStore) AppendEvent(ctx context.Context, e store.Event) (uint64, error) {
	if s.hang.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return s.Store.AppendEvent(ctx, e)
}

// stopWatch notes when a weight change to w returns.
type stopWatch struct {
	*fakeShifter
	w       router.Weight
	stopped chan time.Time
}

func (s *stopWatch) SetWeightPaced(ctx context.Context, w router.Weight, pace int) (int, int, error) {
	moved, failed, err := s.fakeShifter.SetWeightPaced(ctx, w, pace)
	if w == s.w {
		s.stopped <- time.Now()
	}
	return moved, failed, err
}

func (s *stopWatch) SetWeight(ctx context.Context, w router.Weight) (int, int, error) {
	return s.SetWeightPaced(ctx, w, 0)
}

// An emergency rollback stops the moves toward green at once, even when
// the store does not answer: they must not go on while the controller
// waits, up to its store timeout twice, to record the command.
func TestEmergencyStopsTheMovesBeforeTheStoreAnswers(t *testing.T) {
	const storeTimeout = 400 * time.Millisecond
	var hs *hangingStore
	h := newHarness(t, func(o *Options) {
		hs = &hangingStore{Store: o.Store}
		o.Store, o.StoreTimeout = hs, storeTimeout
	})
	_ = h.c.Close()
	sw := &stopWatch{fakeShifter: h.shifter, w: 1000, stopped: make(chan time.Time, 4)}
	h.opts.Shifter = sw
	h.c = h.open()
	h.startStuckAt(1000) // step 1's moves run, blocked until canceled
	hs.hang.Store(true)
	asked := time.Now()
	done := make(chan error, 1)
	go func() { _, err := h.c.EmergencyRollback(ctx); done <- err }()
	select {
	case stopped := <-sw.stopped:
		if took := stopped.Sub(asked); took > storeTimeout/2 {
			t.Errorf("the moves toward green stopped %v after the emergency command", took.Round(time.Millisecond))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the moves toward green never stopped")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hs.hang.Store(false)
	h.waitPhase(h.c, RolledBack)
}
