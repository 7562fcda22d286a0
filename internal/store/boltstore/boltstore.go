// Package boltstore is the store.Store of a single gateway: one bbolt file
// on disk, the gateway's default, so that a restarted process resumes the
// rollout where it stood.
//
// # Layout
//
// Three buckets:
//
//	state     "version" → 8-byte big-endian uint64, "blob" → the state blob
//	events    8-byte big-endian seq → event record (see internal/record)
//	sessions  session id → snapshot blob
//
// Event seqs come from the events bucket's own sequence counter, which
// bbolt keeps beside the bucket, so seqs are never reused after the oldest
// events are trimmed. Big-endian keys make bbolt's byte order the seq order.
//
// # Durability
//
// Every write method is one bbolt read-write transaction and returns after
// it has been committed and fsynced (bbolt's default; this package never
// sets NoSync). A crash loses no write that returned nil. Reads are bbolt
// read transactions and never wait for writers.
//
// # Concurrency
//
// bbolt allows one read-write transaction at a time, so writes are
// serialized, which is what makes CompareAndSetState and the seq assignment
// atomic. The file is locked (flock) by the process that opens it: a second
// Open of the same file, from this process or another, waits
// Options.LockTimeout and then fails with ErrLocked instead of hanging. A
// write that waits for the write lock cannot be interrupted, but it checks
// its context once it holds the lock and commits nothing if the context has
// ended. A write whose context ends while it waits for the lock (a commit
// stuck in fsync, on a disk that stopped answering) returns at once with the
// context's error; one bbolt transaction waits on in the background, and
// later writes queue behind it, each until its own context ends. A write
// whose context ends while it commits may still have committed, as with any
// store reached over a network.
//
// # Damage
//
// bbolt panics when it reads a page that is not what it should be (a file
// damaged on disk, cut short by a full disk or a bad copy). Open and every
// method recover, and fail with an error matching ErrCorrupt that names the
// file, so the gateway reports it instead of crashing. A file damaged where
// Open does not look opens; the calls that meet the damage fail.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/baton-rt/baton/internal/store"
)

// DefaultLockTimeout is how long Open waits for another holder of the file
// when Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// ErrLocked: the file is held by another open store (another gateway
// process, most likely) for longer than Options.LockTimeout.
var ErrLocked = errors.New("boltstore: database file is locked by another process")

// ErrCorrupt: the file is damaged (bbolt found a page that is not what it
// should be). Restore it from a backup, or move it away to start afresh.
var ErrCorrupt = errors.New("boltstore: database file is corrupt")

// Options configures a Store. Zero values mean the documented defaults.
type Options struct {
	// Path is the database file. It is created (mode 0600) if missing; its
	// directory must exist. Required.
	Path string
	// MaxEvents is the event retention; zero means store.DefaultMaxEvents.
	// Lowering it trims the log when the store opens.
	MaxEvents int
	// LockTimeout bounds Open's wait for the file lock; zero means
	// DefaultLockTimeout.
	LockTimeout time.Duration
}

// Validate reports the first field that holds an unusable value.
func (o Options) Validate() error {
	switch {
	case o.Path == "":
		return errors.New("boltstore: Options.Path is empty")
	case o.MaxEvents < 0:
		return fmt.Errorf("boltstore: Options.MaxEvents is %d, want >= 0", o.MaxEvents)
	case o.LockTimeout < 0:
		return fmt.Errorf("boltstore: Options.LockTimeout is %v, want >= 0", o.LockTimeout)
	}
	return nil
}

var (
	bucketState    = []byte("state")
	bucketEvents   = []byte("events")
	bucketSessions = []byte("sessions")
	keyVersion     = []byte("version")
	keyBlob        = []byte("blob")
)

// Store is a store.Store over one bbolt file. It is safe for concurrent use.
type Store struct {
	db        *bolt.DB
	maxEvents int
	closed    atomic.Bool
	// writer holds the one write running in bbolt, so that writes that
	// give up waiting leave at most one transaction behind them.
	writer chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database at opts.Path.
func Open(opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxEvents == 0 {
		opts.MaxEvents = store.DefaultMaxEvents
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	var db *bolt.DB
	err := guard(opts.Path, func() (err error) {
		db, err = bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
		return err
	})
	if errors.Is(err, ErrCorrupt) {
		// bbolt panicked inside Open: it holds the file, which stays
		// locked by this process.
		return nil, err
	}
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (waited %v): %w", ErrLocked, opts.Path, opts.LockTimeout, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == opts.Path {
		return nil, fmt.Errorf("boltstore: %w", err) // "open PATH: …" names the file already
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", opts.Path, err)
	}
	s := &Store{db: db, maxEvents: opts.MaxEvents, writer: make(chan struct{}, 1)}
	err = guard(opts.Path, func() error {
		return db.Update(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucketState, bucketEvents, bucketSessions} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return s.trim(tx.Bucket(bucketEvents))
		})
	})
	if errors.Is(err, ErrCorrupt) {
		_ = db.Close()
		return nil, err
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: prepare %s: %w", opts.Path, err)
	}
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.db.Path() }

// view runs fn in a read transaction after checking ctx and Close.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.mapErr(guard(s.db.Path(), func() error { return s.db.View(fn) }))
}

// guard runs f, turning a panic into an error matching ErrCorrupt that
// names path: bbolt panics when it meets a damaged page, and this turns a
// file damaged on disk into an error the caller can report, instead of a
// crash. bbolt rolls back the transaction it panicked in.
func guard(path string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, p)
		}
	}()
	return f()
}

// update runs fn in a read-write transaction. It returns when ctx ends,
// even while bbolt's write lock is held by a stuck commit, and checks ctx
// again once it holds the lock, so a call canceled while waiting commits
// nothing.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-s.writer }()
		done <- guard(s.db.Path(), func() error {
			return s.db.Update(func(tx *bolt.Tx) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return fn(tx)
			})
		})
	}()
	select {
	case err := <-done:
		return s.mapErr(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// mapErr turns bbolt's "not open" (a call racing with Close) into ErrClosed.
func (s *Store) mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// GetState implements store.StateStore.
func (s *Store) GetState(ctx context.Context) (store.State, error) {
	var st store.State
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState)
		v, err := version(b)
		if err != nil {
			return err
		}
		if v == 0 {
			return store.ErrNotFound
		}
		st = store.State{Version: v, Blob: bytes.Clone(b.Get(keyBlob))}
		return nil
	})
	return st, err
}

// CompareAndSetState implements store.StateStore.
func (s *Store) CompareAndSetState(ctx context.Context, expected uint64, blob []byte) (uint64, error) {
	if err := store.ValidateBlob(blob); err != nil {
		return 0, err
	}
	next := expected + 1
	blob = bytes.Clone(blob) // a write given up on may still commit it later
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState)
		v, err := version(b)
		if err != nil {
			return err
		}
		if v != expected {
			return &store.ConflictError{Expected: expected, Actual: v}
		}
		if err := b.Put(keyVersion, binary.BigEndian.AppendUint64(nil, next)); err != nil {
			return err
		}
		return b.Put(keyBlob, nonNil(blob))
	})
	if err != nil {
		return 0, err
	}
	return next, nil
}

// version reads the stored state version; 0 when there is none.
func version(b *bolt.Bucket) (uint64, error) {
	raw := b.Get(keyVersion)
	if raw == nil {
		return 0, nil
	}
	if len(raw) != 8 {
		return 0, fmt.Errorf("boltstore: corrupt state version (%d bytes)", len(raw))
	}
	return binary.BigEndian.Uint64(raw), nil
}

// nonNil turns a nil blob into an empty one: bbolt stores both the same.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Close closes the file, after any transaction in flight. Later calls fail
// with store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}
