package rollout

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store/boltstore"
)

// A controller stopped while the third step's moves ran (a crash) is
// followed by one on the same store: it continues at the third step and
// never applies the first two again.
func TestRestartMidMoveResumesAtStoredStep(t *testing.T) {
	h := newHarness(t)
	h.startStuckAt(5000)
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}

	second := newShifter()
	h.opts.Shifter = second
	c2 := h.open()
	st := h.waitPhase(c2, Completed)
	if got, want := second.Calls(), []router.Weight{5000, 7500, 10000}; !slices.Equal(got, want) {
		t.Errorf("restarted controller applied %v, want %v", got, want)
	}
	if len(st.Verdicts) != 5 || st.Verdicts[1].Step != 2 || st.Verdicts[2].Step != 3 {
		t.Errorf("verdict steps: %v", verdictSteps(st))
	}
	if count(eventKinds(h.storedEvents()), EventRecovered) != 1 {
		t.Error("no recovered event")
	}
}

// A controller restarted while a step holds re-applies the stored weight
// (idempotent) and continues the stored hold instead of starting it again.
func TestRestartDuringHoldRestoresWeight(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Plan.Hold = time.Hour
		// The first controller's clock runs two hours behind, so its hold
		// has ended by the time the second (real clock) controller looks.
		o.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	})
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}

	second := newShifter()
	h.opts.Shifter, h.opts.Now = second, nil
	c2 := h.open()
	st := h.waitApplied(c2, 2)
	if got, want := second.Calls(), []router.Weight{1000, 2500}; !slices.Equal(got, want) {
		t.Errorf("restarted controller applied %v, want %v (restore, then step 2)", got, want)
	}
	if v, _ := st.LastVerdict(); v.Step != 1 || v.Outcome != Pass || len(st.Verdicts) != 1 {
		t.Errorf("verdicts %v", verdictSteps(st))
	}
}

// A paused rollout stays paused across a restart, with its weight restored.
func TestRestartWhilePaused(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = time.Hour })
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	if _, err := h.c.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	_ = h.c.Close()

	second := newShifter()
	h.opts.Shifter = second
	c2 := h.open()
	h.waitFor(c2, "weight restored", func(State) bool { return len(second.Calls()) == 1 })
	if st := c2.Status(); st.Phase != Paused || second.Calls()[0] != 1000 {
		t.Fatalf("after restart: %s, weights %v", st.Phase, second.Calls())
	}
	if _, err := c2.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(c2, Completed)
	if got, want := second.Calls(), []router.Weight{1000, 10000}; !slices.Equal(got, want) {
		t.Errorf("weights %v, want %v", got, want)
	}
}

// Another writer changes the stored state under a paused controller: the
// next command finds the conflict, adopts the stored state and is judged
// against it.
func TestCommandConflictAdoptsStoredState(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = time.Hour })
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	if _, err := h.c.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := h.store.GetState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := decodeState(stored.Blob)
	if err != nil {
		t.Fatal(err)
	}
	other.Phase, other.Reason = Aborted, "aborted by another gateway"
	blob, _ := encodeState(other)
	if _, err := h.store.CompareAndSetState(ctx, stored.Version, blob); err != nil {
		t.Fatal(err)
	}

	_, err = h.c.Resume(ctx)
	if p, ok := PhaseOf(err); !ok || p != Aborted {
		t.Fatalf("Resume after a foreign abort: %v", err)
	}
	if st := h.c.Status(); st.Phase != Aborted || st.Reason != other.Reason {
		t.Errorf("status %s %q", st.Phase, st.Reason)
	}
	// The controller holds the current version again: the next command
	// stores normally.
	if _, err := h.c.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, RolledBack)
}

// conflictStore bumps the stored version behind the controller's back
// before the armed CompareAndSetState, which therefore conflicts.
type conflictStore struct {
	Store
	armed atomic.Int32 // how many CAS calls still to sabotage
	hits  atomic.Int32
}

func (s *conflictStore) CompareAndSetState(ctx context.Context, expected uint64, blob []byte) (uint64, error) {
	if expected > 0 && s.armed.Add(-1) >= 0 {
		cur, err := s.Store.GetState(ctx)
		if err != nil {
			return 0, err
		}
		if _, err := s.Store.CompareAndSetState(ctx, cur.Version, cur.Blob); err != nil {
			return 0, err
		}
		s.hits.Add(1)
	}
	return s.Store.CompareAndSetState(ctx, expected, blob)
}

// The driver's own writes conflict now and then: it reloads, redoes the
// work and still completes, every step applied once more at most.
func TestDriverConflictReloadsAndContinues(t *testing.T) {
	var cs *conflictStore
	h := newHarness(t, func(o *Options) {
		cs = &conflictStore{Store: o.Store}
		o.Store = cs
	})
	cs.armed.Store(3)
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, Completed)
	if cs.hits.Load() != 3 {
		t.Fatalf("%d conflicts injected, want 3", cs.hits.Load())
	}
	calls := h.shifter.Calls()
	for _, w := range allSteps {
		if n := count(calls, w); n < 1 || n > 2 {
			t.Errorf("weight %v applied %d times (all: %v)", w, n, calls)
		}
	}
	if !slices.IsSorted(calls) {
		t.Errorf("weights went backwards: %v", calls)
	}
	if n := count(eventKinds(h.storedEvents()), EventReloaded); n < 1 {
		t.Errorf("%d reload events", n)
	}
}

// failingStore fails every state write while fail is set.
type failingStore struct {
	Store
	fail atomic.Bool
}

var errDiskFull = errors.New("disk full")

func (s *failingStore) CompareAndSetState(ctx context.Context, expected uint64, blob []byte) (uint64, error) {
	if s.fail.Load() {
		return 0, errDiskFull
	}
	return s.Store.CompareAndSetState(ctx, expected, blob)
}

// A command the store refuses changes nothing; an emergency rollback acts
// anyway.
func TestStoreFailure(t *testing.T) {
	var fs *failingStore
	h := newHarness(t, func(o *Options) {
		o.Plan.Hold = time.Hour
		fs = &failingStore{Store: o.Store}
		o.Store = fs
	})
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	fs.fail.Store(true)
	if _, err := h.c.Pause(ctx); !errors.Is(err, errDiskFull) {
		t.Fatalf("Pause with a failing store: %v", err)
	}
	if st := h.c.Status(); st.Phase != Shifting {
		t.Fatalf("phase %s after a failed Pause", st.Phase)
	}
	if _, err := h.c.EmergencyRollback(ctx); err != nil {
		t.Fatalf("EmergencyRollback with a failing store: %v", err)
	}
	h.waitFor(h.c, "weight 0 applied", func(State) bool {
		c := h.shifter.Calls()
		return c[len(c)-1] == 0
	})
	fs.fail.Store(false) // the store recovers: the driver's retry stores rolled_back
	h.waitPhase(h.c, RolledBack)
	stored, err := h.store.GetState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := decodeState(stored.Blob); st.Phase != RolledBack || !st.Emergency {
		t.Errorf("stored %s emergency %v", st.Phase, st.Emergency)
	}
}

func TestNewRefusesBrokenState(t *testing.T) {
	h := newHarness(t)
	if _, err := h.store.CompareAndSetState(ctx, 0, []byte(`{"schema":1,"phase":"shifting"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, h.opts); err == nil {
		t.Fatal("New accepted a shifting state without a plan")
	}
}

func verdictSteps(st State) []int {
	var out []int
	for _, v := range st.Verdicts {
		out = append(out, v.Step)
	}
	return out
}

// The same across a real process boundary's worth of persistence: the bolt
// file is closed and opened again between the two controllers.
func TestRestartOnBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.db")
	open := func() *boltstore.Store {
		s, err := boltstore.Open(boltstore.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := open()
	h := newHarness(t, func(o *Options) { o.Store = first })
	h.store = first
	h.startStuckAt(5000)
	_ = h.c.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := open()
	t.Cleanup(func() { _ = second.Close() })
	sh := newShifter()
	h.opts.Store, h.opts.Shifter, h.store = second, sh, second
	c2 := h.open()
	h.waitPhase(c2, Completed)
	if got, want := sh.Calls(), []router.Weight{5000, 7500, 10000}; !slices.Equal(got, want) {
		t.Errorf("after reopening the file: applied %v, want %v", got, want)
	}
	kinds := eventKinds(h.storedEvents())
	if count(kinds, EventStarted) != 1 || count(kinds, EventRecovered) != 1 || count(kinds, EventCompleted) != 1 {
		t.Errorf("event log across the restart: %v", kinds)
	}
}

// A gateway killed during a step's hold and started again after the hold
// would have ended finds its step's gate due at once, but its health
// window is new and holds almost nothing. That is no evidence about green:
// the first gate after the restart holds the step again, without spending
// an extension, instead of rolling back (max_extensions -1 fails an
// inconclusive gate at once) or using up the extensions meant for a green
// that is really quiet.
func TestRestartWithAnEmptyWindowHoldsAgain(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Plan.Hold = time.Hour
		o.Plan.MaxExtensions = -1
		o.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	})
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}

	// The restarted process: its monitor has seen a few operations.
	fresh := &fakeHealth{green: healthy(3, 0), blue: healthy(3, 0)}
	h.opts.Shifter, h.opts.Health, h.opts.Now = newShifter(), fresh, nil
	c2 := h.open()
	st := h.waitFor(c2, "the first gate after the restart", func(s State) bool { return len(s.Verdicts) > 0 })
	if v, _ := st.LastVerdict(); v.Outcome != Inconclusive {
		t.Fatalf("verdict %s on a near-empty window, want inconclusive", v.Outcome)
	}
	if st.Phase != Shifting || st.Step != 1 || st.Extensions != 0 {
		t.Fatalf("after the first gate on a near-empty window: %s at step %d with %d extensions used (%q), want the step held again with none used",
			st.Phase, st.Step, st.Extensions, st.Reason)
	}
	if left := time.Until(st.HoldUntil); left < 59*time.Minute {
		t.Errorf("hold ends in %v, want the whole hold again", left)
	}
}
