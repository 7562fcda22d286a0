package rollout

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/baton-rt/baton/internal/alert"
)

// lateStore answers the first state write that holds `match` with its
// context's deadline although the write is made: a bbolt commit stuck in
// fsync past the store timeout, which lands after its caller gave up.
type lateStore struct {
	Store
	match []byte
	done  atomic.Bool
}

func (s *lateStore) CompareAndSetState(ctx context.Context, v uint64, b []byte) (uint64, error) {
	n, err := s.Store.CompareAndSetState(ctx, v, b)
	if err == nil && bytes.Contains(b, s.match) && s.done.CompareAndSwap(false, true) {
		return 0, context.DeadlineExceeded
	}
	return n, err
}

// A failed gate whose state write is reported failed but lands all the
// same still pages: the controller that finds its own write in the store
// must not take it for another writer's and drop its alerts.
func TestGateFailureWrittenLateStillAlerts(t *testing.T) {
	checkGateFailureAlerts(t, func(st Store) Store {
		return &lateStore{Store: st, match: []byte(`"phase":"rolling_back"`)}
	})
}

// outageStore makes the first state write that holds `match`, then fails
// the next `down` state writes without making them: a write that reached
// the store just as it went away (its reply lost), then retries that
// cannot reach it, until it is back.
type outageStore struct {
	Store
	match []byte
	mu    sync.Mutex
	hit   bool
	down  int
}

func (s *outageStore) CompareAndSetState(ctx context.Context, v uint64, b []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.hit && s.down > 0:
		s.down--
		return 0, errStoreDown
	case !s.hit && bytes.Contains(b, s.match):
		if _, err := s.Store.CompareAndSetState(ctx, v, b); err != nil {
			return 0, err
		}
		s.hit = true
		return 0, errStoreDown
	}
	return s.Store.CompareAndSetState(ctx, v, b)
}

var errStoreDown = errors.New("connection reset by peer")

// The same when the retries of the lost write fail too (the store stays
// away for a few seconds): the write that landed is still the
// controller's own, with its alerts, although later attempts at the same
// transition were made since.
func TestGateFailureWrittenBeforeAnOutageStillAlerts(t *testing.T) {
	checkGateFailureAlerts(t, func(st Store) Store {
		return &outageStore{Store: st, match: []byte(`"phase":"rolling_back"`), down: 3}
	})
}

// checkGateFailureAlerts fails green's gate on a store that wrap makes
// unreliable when the rollback's state is written, and checks that the
// gate_failed and rollback_started alerts went out and that the controller
// took no write of its own for another writer's.
func checkGateFailureAlerts(t *testing.T, wrap func(Store) Store) {
	t.Helper()
	h := newHarness(t, func(o *Options) { o.Store = wrap(o.Store) })
	g := healthy(1000, 0)
	g.Errors = 50 // 5 % > 1 %
	h.health.setGreen(g)
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, RolledBack)
	got := h.notifier.kinds()
	for _, k := range []alert.Kind{alert.KindGateFailed, alert.KindRollbackStarted} {
		if !slices.Contains(got, k) {
			t.Errorf("alerts %v: no %s", got, k)
		}
	}
	if kinds := eventKinds(h.storedEvents()); count(kinds, EventGateFailed) != 1 || count(kinds, EventReloaded) != 0 {
		t.Errorf("events %v: want one gate_failed and no state_reloaded (no other writer)", kinds)
	}
}
