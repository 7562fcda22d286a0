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

// hangingHarness is a harness whose store can be made to hang, with the
// given store timeout.
func hangingHarness(t *testing.T, storeTimeout time.Duration) (*harness, *hangingStore) {
	var hs *hangingStore
	h := newHarness(t, func(o *Options) {
		hs = &hangingStore{Store: o.Store}
		o.Store, o.StoreTimeout = hs, storeTimeout
	})
	return h, hs
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
	h, hs := hangingHarness(t, storeTimeout)
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

// The emergency's own moves, back to blue, start at once too: a store that
// hangs (which may be part of the incident) must not hold them up for its
// timeout, twice, while green keeps its users.
func TestEmergencyMovesBeforeTheStoreAnswers(t *testing.T) {
	const storeTimeout = 400 * time.Millisecond
	h, hs := hangingHarness(t, storeTimeout)
	h.startStuckAt(1000)
	hs.hang.Store(true)
	asked := time.Now()
	done := make(chan error, 1)
	go func() { _, err := h.c.EmergencyRollback(ctx); done <- err }()
	for got := range h.shifter.called {
		if got != 0 {
			continue
		}
		if took := time.Since(asked); took > storeTimeout/2 {
			t.Errorf("the moves back to blue began %v after the emergency command", took.Round(time.Millisecond))
		}
		break
	}
	if p := h.shifter.Paces(); p[len(p)-1] != Unpaced {
		t.Errorf("the moves back to blue ran at pace %d, want unpaced", p[len(p)-1])
	}
	if st := h.c.Status(); st.Phase != RollingBack || !st.Emergency {
		t.Errorf("status during the emergency: %s (emergency %v)", st.Phase, st.Emergency)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hs.hang.Store(false)
	h.waitPhase(h.c, RolledBack)
	kinds := eventKinds(h.storedEvents())
	if n := count(kinds, EventRollbackFinished); n != 1 {
		t.Errorf("stored events %v: %d rollback_finished, want 1", kinds, n)
	}
}

// An emergency rollback whose write conflicts with another writer's
// overwrites it: the emergency is what the store holds afterwards, and what
// a restarted controller resumes.
func TestEmergencyOverwritesAConflictingWrite(t *testing.T) {
	var cs *conflictStore
	h := newHarness(t, func(o *Options) {
		cs = &conflictStore{Store: o.Store}
		o.Store = cs
	})
	h.startStuckAt(1000)
	cs.armed.Store(1)
	if _, err := h.c.EmergencyRollback(ctx); err != nil {
		t.Fatal(err)
	}
	if cs.hits.Load() != 1 {
		t.Fatalf("%d conflicts injected, want 1", cs.hits.Load())
	}
	stored, err := h.store.GetState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeState(stored.Blob)
	if err != nil {
		t.Fatal(err)
	}
	if (st.Phase != RollingBack && st.Phase != RolledBack) || !st.Emergency {
		t.Errorf("stored after the emergency: %s (emergency %v)", st.Phase, st.Emergency)
	}
	h.waitPhase(h.c, RolledBack)
}

// gatedConflictStore holds the armed state write until release, then makes
// it conflict: another writer got in meanwhile (or a write given up on
// after a store hang committed late).
type gatedConflictStore struct {
	Store
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *gatedConflictStore) CompareAndSetState(ctx context.Context, expected uint64, blob []byte) (uint64, error) {
	if s.armed.CompareAndSwap(true, false) {
		s.entered <- struct{}{}
		<-s.release
		cur, err := s.Store.GetState(ctx)
		if err != nil {
			return 0, err
		}
		if _, err := s.Store.CompareAndSetState(ctx, cur.Version, cur.Blob); err != nil {
			return 0, err
		}
	}
	return s.Store.CompareAndSetState(ctx, expected, blob)
}

// An emergency rollback made while a command's write is under way, and
// that write then conflicts: the reload of the stored state must not undo
// the emergency, which acted already and has not been stored yet.
func TestEmergencySurvivesAConflictingCommand(t *testing.T) {
	var gs *gatedConflictStore
	h := newHarness(t, func(o *Options) {
		gs = &gatedConflictStore{Store: o.Store, entered: make(chan struct{}, 1), release: make(chan struct{})}
		o.Store = gs
	})
	h.startStuckAt(1000)
	gs.armed.Store(true)
	paused := make(chan error, 1)
	go func() { _, err := h.c.Pause(ctx); paused <- err }()
	<-gs.entered // Pause's write is under way, holding the store
	emergency := make(chan error, 1)
	go func() { _, err := h.c.EmergencyRollback(ctx); emergency <- err }()
	h.waitFor(h.c, "the emergency in effect", func(s State) bool { return s.Phase == RollingBack && s.Emergency })
	close(gs.release)
	if err := <-emergency; err != nil {
		t.Fatal(err)
	}
	if err := <-paused; err == nil {
		t.Error("Pause succeeded over an emergency rollback")
	}
	st := h.waitPhase(h.c, RolledBack)
	if !st.Emergency {
		t.Errorf("rolled back without the emergency: %+v", st)
	}
	if w := h.shifter.Status().Weight; w != 0 {
		t.Errorf("weight %v after the emergency, want 0", w)
	}
}
