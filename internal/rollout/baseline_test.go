package rollout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/baton-rt/baton/internal/router"
)

// lossyShifter makes the first change to weight w lose half of its
// moves' sockets and subscriptions, as seen by the preservation counters.
type lossyShifter struct {
	*fakeShifter
	w      router.Weight
	health *fakeHealth
	once   sync.Once
}

func (s *lossyShifter) SetWeightPaced(ctx context.Context, w router.Weight, pace int) (int, int, error) {
	if w == s.w {
		s.once.Do(func() {
			s.health.mu.Lock()
			s.health.pres = Preservation{MovesTried: 100, SocketsKept: 50, SubscriptionsTried: 100, SubscriptionsKept: 50}
			s.health.mu.Unlock()
		})
	}
	return s.fakeShifter.SetWeightPaced(ctx, w, pace)
}

func (s *lossyShifter) SetWeight(ctx context.Context, w router.Weight) (int, int, error) {
	return s.SetWeightPaced(ctx, w, 0)
}

// failNthWrite fails the n-th state write (1-based) once.
type failNthWrite struct {
	Store
	n, calls atomic.Int32
}

func (s *failNthWrite) CompareAndSetState(ctx context.Context, v uint64, b []byte) (uint64, error) {
	if s.calls.Add(1) == s.n.Load() {
		return 0, errDiskFull
	}
	return s.Store.CompareAndSetState(ctx, v, b)
}

// A step whose moves are redone still has its gate count the moves of
// every attempt: the baseline is the one taken when the step began. Step
// 1 loses half its sockets; the gate must roll back whether or not the
// step was applied in one go (a failed store write after the moves, or a
// pause during them, makes the driver apply it again).
func TestBaselineSurvivesARedoneStep(t *testing.T) {
	for _, redo := range []string{"none", "store write", "pause"} {
		t.Run(redo, func(t *testing.T) {
			var st *failNthWrite
			h := newHarness(t, func(o *Options) {
				st = &failNthWrite{Store: o.Store}
				if redo == "store write" {
					st.n.Store(3) // 1: start, 2: step 1 began, 3: step 1 applied
				}
				o.Store = st
			})
			_ = h.c.Close()
			h.opts.Shifter = &lossyShifter{fakeShifter: h.shifter, w: 1000, health: h.health}
			h.c = h.open()
			if redo == "pause" {
				h.startStuckAt(1000)
				if _, err := h.c.Pause(ctx); err != nil {
					t.Fatal(err)
				}
				h.shifter.setBlock(1000, false)
				if _, err := h.c.Resume(ctx); err != nil {
					t.Fatal(err)
				}
			} else if _, err := h.c.Start(ctx, nil); err != nil {
				t.Fatal(err)
			}
			end := h.waitFor(h.c, "the end", func(s State) bool { return s.Phase == Completed || s.Phase == RolledBack })
			if end.Phase != RolledBack {
				t.Fatalf("%s: half the sockets lost at step 1 passed its gate (preservation %+v)", end.Phase, end.Verdicts[0].Preservation)
			}
		})
	}
}

// since counts from zero on every counter once any is below its base: the
// gateway restarted, and its counters with it.
func TestSinceAfterARestart(t *testing.T) {
	base := Preservation{MovesTried: 1000, SocketsKept: 990, SubscriptionsTried: 1000, SubscriptionsKept: 990}
	for _, tc := range []struct {
		name      string
		cur, want Preservation
	}{
		{"growth", Preservation{1100, 1080, 1100, 1080}, Preservation{100, 90, 100, 90}},
		{"restart, all below", Preservation{10, 9, 10, 9}, Preservation{10, 9, 10, 9}},
		// Tried has caught up with its base since the restart; kept has not.
		{"restart, tried caught up", Preservation{1005, 985, 1005, 985}, Preservation{1005, 985, 1005, 985}},
	} {
		if got := since(tc.cur, base); got != tc.want {
			t.Errorf("%s: since(%+v) = %+v, want %+v", tc.name, tc.cur, got, tc.want)
		}
	}
}
