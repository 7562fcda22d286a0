// Package memstore is the in-memory store.Store: the default in tests and
// in the demo. Nothing survives the process; everything else in the
// store.Store contract holds, one mutex making every method atomic.
package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/store"
)

// Options configures a Store. Zero values mean the documented defaults.
type Options struct {
	// MaxEvents is the event retention; zero means store.DefaultMaxEvents.
	MaxEvents int
}

// Store keeps everything in memory. It is safe for concurrent use.
type Store struct {
	maxEvents int

	mu       sync.Mutex
	closed   bool
	state    store.State // Version 0: no state yet
	events   []store.Event
	lastSeq  uint64
	sessions map[string][]byte
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) (*Store, error) {
	if opts.MaxEvents < 0 {
		return nil, fmt.Errorf("memstore: Options.MaxEvents is %d, want >= 0", opts.MaxEvents)
	}
	if opts.MaxEvents == 0 {
		opts.MaxEvents = store.DefaultMaxEvents
	}
	return &Store{maxEvents: opts.MaxEvents, sessions: map[string][]byte{}}, nil
}

// lock takes the mutex if the store is usable; the caller unlocks.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

// GetState implements store.StateStore.
func (s *Store) GetState(ctx context.Context) (store.State, error) {
	if err := s.lock(ctx); err != nil {
		return store.State{}, err
	}
	defer s.mu.Unlock()
	if s.state.Version == 0 {
		return store.State{}, store.ErrNotFound
	}
	return store.State{Version: s.state.Version, Blob: clone(s.state.Blob)}, nil
}

// CompareAndSetState implements store.StateStore.
func (s *Store) CompareAndSetState(ctx context.Context, expected uint64, blob []byte) (uint64, error) {
	if err := store.ValidateBlob(blob); err != nil {
		return 0, err
	}
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if s.state.Version != expected {
		return 0, &store.ConflictError{Expected: expected, Actual: s.state.Version}
	}
	s.state = store.State{Version: expected + 1, Blob: clone(blob)}
	return s.state.Version, nil
}

// AppendEvent implements store.EventLog.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) (uint64, error) {
	e, err := store.PrepareEvent(e, time.Now)
	if err != nil {
		return 0, err
	}
	e.Data = clone(e.Data)
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	s.lastSeq++
	e.Seq = s.lastSeq
	s.events = append(s.events, e)
	// Reslicing drops the oldest; the next growth of the slice copies only
	// the retained events, so memory stays within about twice MaxEvents.
	if over := len(s.events) - s.maxEvents; over > 0 {
		clear(s.events[:over])
		s.events = s.events[over:]
	}
	return e.Seq, nil
}

// ListEvents implements store.EventLog.
func (s *Store) ListEvents(ctx context.Context, after uint64, limit int) ([]store.Event, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if len(s.events) == 0 || after >= s.lastSeq {
		return nil, nil
	}
	// Retained seqs are consecutive, so a seq's index is its distance from
	// the oldest.
	start := 0
	if first := s.events[0].Seq; after >= first {
		start = int(after - first + 1)
	}
	end := len(s.events)
	if limit > 0 && limit < end-start { // not start+limit: it can overflow
		end = start + limit
	}
	out := make([]store.Event, end-start)
	for i, e := range s.events[start:end] {
		e.Data = clone(e.Data)
		out[i] = e
	}
	return out, nil
}

// PutSession implements store.SessionStore.
func (s *Store) PutSession(ctx context.Context, id string, blob []byte) error {
	if err := store.ValidateSessionID(id); err != nil {
		return err
	}
	if err := store.ValidateBlob(blob); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.sessions[id] = clone(blob)
	return nil
}

// GetSession implements store.SessionStore.
func (s *Store) GetSession(ctx context.Context, id string) ([]byte, error) {
	if err := store.ValidateSessionID(id); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	blob, ok := s.sessions[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(blob), nil
}

// DeleteSession implements store.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := store.ValidateSessionID(id); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.sessions, id)
	return nil
}

// ListSessions implements store.SessionStore. It sorts the ids on every
// call, which is fine for the few thousand snapshots of one gateway.
func (s *Store) ListSessions(ctx context.Context, after string, limit int) ([]store.Session, error) {
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var ids []string
	for id := range s.sessions {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, strings.Compare)
	ids = ids[:min(limit, len(ids))]
	out := make([]store.Session, len(ids))
	for i, id := range ids {
		out[i] = store.Session{ID: id, Blob: clone(s.sessions[id])}
	}
	return out, nil
}

// Close drops the data. Later calls fail with store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.state, s.events, s.sessions = store.State{}, nil, nil
	return nil
}

// clone copies b so that callers and the store never share a buffer. It
// keeps nil as nil and an empty slice as empty.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
