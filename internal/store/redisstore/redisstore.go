// Package redisstore is a store.Store in Redis: every process that points at
// the same Redis (and key prefix) shares one rollout state, one event log
// and the session snapshots, and a gateway with no disk of its own comes
// back to its rollout from anywhere. It needs Redis 7.0 or later.
//
// The gateway takes the store's lease (Store.Acquire, lease.go) so that one
// gateway at a time runs the rollout, as boltstore's file lock does.
//
// # Keys
//
// All keys share the hash tag {store}, so that they live in one cluster slot
// and a transaction may touch several:
//
//	<prefix>{store}:state        hash: v (version), b (blob), w (id of the write)
//	<prefix>{store}:events       stream: entries 0-<seq>, fields e (event record), w (id of the append)
//	<prefix>{store}:sessions     hash: session id → snapshot blob
//	<prefix>{store}:session-ids  sorted set, all scores 0: ids in byte order
//	<prefix>{store}:owner        string: the lease's holder (lease.go)
//	<prefix>{store}:owner-meta   string: the holder's LeaseOptions.Meta, expiring with the lease
//
// # Atomicity
//
// CompareAndSetState is one Lua script (compare the version, HINCRBY it,
// store the blob and the call's random id), so the check and the write
// cannot interleave with another gateway's; through a lease's FencedStore
// the same script also checks the lease key (lease.go). go-redis's resend
// of a script whose reply a broken connection lost finds its own id and
// reports the write made, not a conflict. AppendEvent is one Lua script around an XADD
// with the id 0-* and an exact MAXLEN: Redis assigns the next sequence
// number of the stream (the seq) and trims the oldest entries in the same
// command, and keeps counting after trims. The entry keeps the call's random
// id, and a resend of the script (a reply lost) that finds it among the
// newest entries returns that seq instead of appending the event twice.
// PutSession and DeleteSession update the hash and the sorted set in one
// MULTI; ListSessions reads both in one script.
//
// If the keys vanish (FLUSHDB, eviction, a Redis without persistence that
// restarted), the state is gone and event seqs start again at 1: run Redis
// with persistence, and with maxmemory-policy noeviction, for rollouts that
// must survive.
//
// # Durability
//
// A write that returned nil has been applied by Redis; whether it survives
// a Redis crash depends on the server's appendonly/appendfsync settings. A
// write that failed with a network error may still have been applied.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/store"
)

// Defaults for the zero values of Options.
const (
	DefaultAddr   = "127.0.0.1:6379"
	DefaultPrefix = "baton:store:"
)

// Options configures a Store. Zero values mean the documented defaults.
type Options struct {
	// Client is the Redis client to use; the Store does not close it. It
	// should have ContextTimeoutEnabled set, or go-redis ignores context
	// deadlines. When nil, New connects to Addr with Username, Password and
	// DB, and Close closes that connection.
	Client   redis.UniversalClient
	Addr     string
	Username string
	Password string
	DB       int
	// Prefix starts every key, so that several deployments (or tests) can
	// share one Redis. Empty means DefaultPrefix. It must not contain '{'
	// or '}' (they would break the hash tag).
	Prefix string
	// MaxEvents is the event retention; zero means store.DefaultMaxEvents.
	MaxEvents int
}

// Validate reports the first field that holds an unusable value.
func (o Options) Validate() error {
	switch {
	case strings.ContainsAny(o.Prefix, "{}"):
		return fmt.Errorf("redisstore: Options.Prefix %q contains '{' or '}'", o.Prefix)
	case o.MaxEvents < 0:
		return fmt.Errorf("redisstore: Options.MaxEvents is %d, want >= 0", o.MaxEvents)
	}
	return nil
}

// Store is a store.Store over Redis. It is safe for concurrent use, also by
// several processes sharing the prefix.
type Store struct {
	client    redis.UniversalClient
	ownClient bool
	maxEvents int
	closed    atomic.Bool

	base                                                                    string // <prefix>{store}:
	keyState, keyEvents, keySessions, keySessionIDs, keyOwner, keyOwnerMeta string
}

var _ store.Store = (*Store)(nil)

// New returns a Store and checks that Redis answers.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxEvents == 0 {
		opts.MaxEvents = store.DefaultMaxEvents
	}
	s := &Store{client: opts.Client, maxEvents: opts.MaxEvents}
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{
			Addr:                  opts.Addr,
			Username:              opts.Username,
			Password:              opts.Password,
			DB:                    opts.DB,
			ContextTimeoutEnabled: true,
		})
		s.ownClient = true
	}
	s.base = opts.Prefix + "{store}:"
	s.keyState, s.keyEvents = s.Key("state"), s.Key("events")
	s.keySessions, s.keySessionIDs = s.Key("sessions"), s.Key("session-ids")
	s.keyOwner, s.keyOwnerMeta = s.Key("owner"), s.Key("owner-meta")
	if err := s.client.Ping(ctx).Err(); err != nil {
		if s.ownClient {
			_ = s.client.Close()
		}
		return nil, fmt.Errorf("redisstore: ping %s: %w", opts.Addr, err)
	}
	return s, nil
}

// Key is the store's key named name: under its prefix, with the {store}
// hash tag, so that the gateway's own keys beside the store's (health,
// applied weights) share its Redis Cluster slot.
func (s *Store) Key(name string) string { return s.base + name }

func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// wrap names the failed operation and turns a closed client (a call racing
// with Close) into store.ErrClosed.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.ErrClosed) || s.closed.Load() {
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// Close closes the connection if New opened it. Later calls fail with
// store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.ownClient {
		return nil
	}
	return s.client.Close()
}
