// Package storetest is the behavioural suite that every store.Store
// implementation must pass: optimistic concurrency on the state under
// concurrent writers, gap-free event seqs under concurrent appends,
// retention, byte-exact payloads, session snapshot paging, limits, context
// cancellation, Close, and (where the implementation has them) persistence
// across a reopen and a second handle on the same data.
//
// An implementation's test calls Run with a factory and a Config. Every
// loop in the suite is bounded, and every call takes a context with
// Timeout, so a broken implementation fails instead of hanging.
package storetest

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/store"
)

// Config tells the suite how the stores made by the factory are set up.
type Config struct {
	// MaxEvents is the event retention the factory configures: at least
	// minMaxEvents and small (16 is good), so the suite overflows it fast.
	MaxEvents int
	// Reopen closes s and returns a new store over the same data, as a
	// restarted gateway would open it. Nil skips the persistence test.
	Reopen func(t *testing.T, s store.Store) store.Store
	// Peer returns a second, independent handle on the data of s (another
	// gateway process), open at the same time as s and closed when t ends.
	// When nil, the concurrency tests share s between goroutines.
	Peer func(t *testing.T, s store.Store) store.Store
}

// Timeout bounds each test's calls.
const Timeout = 20 * time.Second

const minMaxEvents = 8

// Run runs the suite. newStore must return a store over empty data of its
// own and arrange for it to be closed when t ends (a second Close is fine).
func Run(t *testing.T, newStore func(t *testing.T) store.Store, cfg Config) {
	if cfg.MaxEvents < minMaxEvents {
		t.Fatalf("storetest: Config.MaxEvents must be >= %d", minMaxEvents)
	}
	s := &suite{newStore: newStore, cfg: cfg}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"StateNotFound", s.testStateNotFound},
		{"StateCompareAndSet", s.testStateCompareAndSet},
		{"StateBytesExact", s.testStateBytesExact},
		{"StateLimits", s.testStateLimits},
		{"StateConcurrentWriters", s.testStateConcurrentWriters},
		{"EventsAppendList", s.testEventsAppendList},
		{"EventsPaging", s.testEventsPaging},
		{"EventsInvalid", s.testEventsInvalid},
		{"EventsConcurrent", s.testEventsConcurrent},
		{"EventsRetention", s.testEventsRetention},
		{"Sessions", s.testSessions},
		{"SessionsList", s.testSessionsList},
		{"SessionsInvalid", s.testSessionsInvalid},
		{"CanceledContext", s.testCanceledContext},
		{"Closed", s.testClosed},
		{"Reopen", s.testReopen},
		{"Peer", s.testPeer},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	newStore func(t *testing.T) store.Store
	cfg      Config
}

// peer returns the second handle when the implementation has one, else st.
func (s *suite) peer(t *testing.T, st store.Store) store.Store {
	if s.cfg.Peer == nil {
		return st
	}
	return s.cfg.Peer(t, st)
}
