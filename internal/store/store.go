// Package store defines where the rollout controller keeps what must outlive
// a gateway process: the rollout state, the event log (transitions, verdicts,
// alerts) and session snapshots for crash recovery.
//
// The store is deliberately dumb: the state and the snapshots are opaque
// blobs whose schema the controller owns (JSON by convention), and events
// carry a kind and a raw JSON payload. What the store guarantees is the
// part that is hard to get right above it: optimistic concurrency on the
// state, gap-free event seqs, bounded retention, durability and ordering.
//
// Implementations live in subpackages: memstore (tests, the demo),
// boltstore (one process, a file on disk; the gateway's default) and
// redisstore (a Redis server, shareable by several processes; the gateway
// holds it alone through its lease). storetest holds the
// behavioural suite that every implementation must pass.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Store is the whole persistence surface of the rollout controller.
//
// Concurrency: every method is safe for concurrent use, from several
// goroutines and, for implementations that share data between processes
// (redisstore), from several processes.
//
// Atomicity: each method is one atomic step. A write either happens
// completely and is visible to every later read (on any handle of the same
// data), or it returns an error and changed nothing — with one exception:
// a network implementation may have applied a write whose reply was lost,
// so a caller that retries CompareAndSetState after a transport error should
// expect ErrConflict and re-read.
//
// Durability: when a write returns nil, it survives the process
// (boltstore: fsynced; redisstore: as durable as the Redis server is
// configured to be; memstore: not at all).
//
// Context: every method gives up with the context's error when ctx is done
// before the operation started; an operation already committed is not
// rolled back.
//
// Close releases the store. Later calls fail with ErrClosed; a second Close
// returns nil.
type Store interface {
	StateStore
	EventLog
	SessionStore
	Close() error
}

// StateStore holds the single rollout state blob under optimistic
// concurrency control, so that two gateways (say, during a leader handover)
// can never overwrite each other's decisions unknowingly.
type StateStore interface {
	// GetState returns the current state. It returns ErrNotFound when no
	// state was ever written.
	GetState(ctx context.Context) (State, error)

	// CompareAndSetState replaces the state with blob if the stored version
	// is expected, and returns the new version (expected+1). Version 0 means
	// "no state yet": CompareAndSetState(ctx, 0, b) creates the state and
	// fails with ErrConflict if one exists. When the stored version differs
	// from expected, nothing is written and the error matches ErrConflict
	// (see ConflictError for the version found). blob must be at most
	// MaxBlobSize bytes.
	CompareAndSetState(ctx context.Context, expected uint64, blob []byte) (uint64, error)
}

// EventLog is an append-only, bounded log of events.
//
// Seqs: AppendEvent assigns seq 1 to the first event ever appended and then
// +1 per append, with no gaps and no reuse, also after the oldest events
// were trimmed. The order of seqs is the order in which appends took
// effect, across every handle of the same data.
//
// Retention: the log keeps the newest MaxEvents events (an implementation
// option, DefaultMaxEvents when zero). Appending to a full log silently
// drops the oldest event; it never blocks and never fails for lack of room.
type EventLog interface {
	// AppendEvent stores e and returns its seq. e.Seq is ignored. A zero
	// e.Time is replaced by the store's clock. e must pass ValidateEvent.
	AppendEvent(ctx context.Context, e Event) (uint64, error)

	// ListEvents returns retained events with seq > after, oldest first, at
	// most limit of them (limit <= 0: all retained). A first seq above
	// after+1 means the events in between were trimmed. An empty result
	// means nothing newer than after is retained.
	ListEvents(ctx context.Context, after uint64, limit int) ([]Event, error)
}

// SessionStore keeps one snapshot blob per session id, for resuming
// sessions after a crash. Snapshots are independent: there is no order or
// transaction across ids. The number of snapshots is bounded by the caller
// (one per live session, which the gateway bounds).
type SessionStore interface {
	// PutSession creates or replaces the snapshot of id. blob must be at
	// most MaxBlobSize bytes; id must pass ValidateSessionID.
	PutSession(ctx context.Context, id string, blob []byte) error

	// GetSession returns the snapshot of id, or ErrNotFound.
	GetSession(ctx context.Context, id string) ([]byte, error)

	// DeleteSession removes the snapshot of id. Deleting a missing id is
	// not an error.
	DeleteSession(ctx context.Context, id string) error

	// ListSessions returns snapshots with id > after in byte-wise id order,
	// at most limit of them (limit <= 0: DefaultListLimit). Pass the last id
	// returned as after to read the next page; a short page is the last.
	// A snapshot written or deleted while paging may or may not be seen.
	ListSessions(ctx context.Context, after string, limit int) ([]Session, error)
}

// State is the rollout state as stored.
type State struct {
	// Version counts the writes of the state: 1 after the first.
	Version uint64
	// Blob is the controller's encoding of the state, exactly as written.
	Blob []byte
}

// Event is one entry of the event log.
type Event struct {
	// Seq is the event's position in the log, assigned by AppendEvent.
	Seq uint64
	// Time is when the event happened, stored with nanosecond precision and
	// returned in UTC.
	Time time.Time
	// Kind names what happened, e.g. "step_passed" or "verdict": 1 to
	// MaxKindLen bytes.
	Kind string
	// Data is the event's payload: empty, or valid JSON of at most
	// MaxEventDataSize bytes, returned byte for byte as appended.
	Data json.RawMessage
}

// Session is one stored session snapshot.
type Session struct {
	ID   string
	Blob []byte
}

// Limits and defaults shared by every implementation.
const (
	// MaxBlobSize bounds the state blob and each session snapshot.
	MaxBlobSize = 1 << 20
	// MaxEventDataSize bounds an event's Data.
	MaxEventDataSize = 64 << 10
	// MaxKindLen bounds Event.Kind.
	MaxKindLen = 64
	// MaxSessionIDLen bounds session ids.
	MaxSessionIDLen = 256
	// DefaultMaxEvents is the event retention when an implementation's
	// option is zero.
	DefaultMaxEvents = 10_000
	// DefaultListLimit is the page size of ListSessions for limit <= 0.
	DefaultListLimit = 1000
)

// Errors that callers test with errors.Is.
var (
	// ErrNotFound: no state yet, or no snapshot under that id.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: CompareAndSetState found another version.
	ErrConflict = errors.New("store: version conflict")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalid: an argument breaks a documented limit.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrLeaseLost: a state write fenced by a lease (redisstore's) found
	// the lease held by another process, or given up; nothing was written.
	// The writer no longer holds the store and must stop acting on it:
	// retrying cannot succeed.
	ErrLeaseLost = errors.New("store: the lease this write was made under is lost")
)
