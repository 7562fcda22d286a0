package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/store"
)

// A write that cannot get bbolt's write lock (a commit stuck in fsync holds
// it) returns when its context ends, and commits nothing; so does every
// write queued behind it.
func TestWriteStallEndsWithTheContext(t *testing.T) {
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "baton.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	v, err := s.CompareAndSetState(context.Background(), 0, []byte("first"))
	if err != nil {
		t.Fatal(err)
	}

	stuck, err := s.db.Begin(true) // holds the write lock, as a stalled commit does
	if err != nil {
		t.Fatal(err)
	}
	for _, write := range []func(context.Context) error{
		func(ctx context.Context) error { _, err := s.CompareAndSetState(ctx, v, []byte("second")); return err },
		func(ctx context.Context) error {
			_, err := s.AppendEvent(ctx, store.Event{Kind: "k", Data: []byte(`{}`)})
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- write(ctx) }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("write behind a stuck commit: %v, want the deadline", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("write returned %v after its deadline", took)
			}
		case <-time.After(5 * time.Second):
			t.Error("write behind a stuck commit did not return with its context")
		}
		cancel()
	}
	if err := stuck.Rollback(); err != nil {
		t.Fatal(err)
	}

	// Neither write committed once the lock came free.
	got, err := s.GetState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != v || string(got.Blob) != "first" {
		t.Errorf("state after the canceled write: version %d %q, want %d %q", got.Version, got.Blob, v, "first")
	}
	if evs, err := s.ListEvents(context.Background(), 0, 0); err != nil || len(evs) != 0 {
		t.Errorf("events after the canceled append: %v, %v", evs, err)
	}
	if _, err := s.CompareAndSetState(context.Background(), v, []byte("third")); err != nil {
		t.Errorf("write after the stall: %v", err)
	}
}
