package redisstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/store"
)

// casScript sets the state if its version is ARGV[1] ("0": no state).
// Versions are compared as the decimal strings that HINCRBY writes, so no
// Lua number rounding is involved. ARGV[3] is an id unique to the call,
// kept in the field w: go-redis sends the script again when a connection
// breaks before the reply came, and a second run that finds w equal to its
// id knows the write was its own first run's, not a conflict.
//
// With a second key, the lease's (a FencedStore), the write is fenced: it
// is refused when the key holds another owner than ARGV[4], checked in the
// same script so that no other gateway can take the lease between the
// check and the write. A key that expired with nobody taking it is taken
// back for ARGV[5] ms, as the lease's renewal would, with its meta KEYS[3]
// (ARGV[6]; fenceLua).
//
// Reply: {1, new version}, {0, version found} or {2, owner found}.
var casFence, casTakeBack = fenceLua(4)

var casScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] and redis.call('HGET', KEYS[1], 'w') == ARGV[3] then
  return {1, v}
end
` + casFence + `
if v ~= ARGV[1] then
  return {0, v}
end
` + casTakeBack + `
local n = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'b', ARGV[2], 'w', ARGV[3])
return {1, tostring(n)}
`)

// GetState implements store.StateStore.
func (s *Store) GetState(ctx context.Context) (store.State, error) {
	if err := s.usable(ctx); err != nil {
		return store.State{}, err
	}
	vals, err := s.client.HMGet(ctx, s.keyState, "v", "b").Result()
	if err != nil {
		return store.State{}, s.wrap("get state", err)
	}
	vs, ok := vals[0].(string)
	if !ok {
		return store.State{}, store.ErrNotFound
	}
	v, err := strconv.ParseUint(vs, 10, 64)
	if err != nil || v == 0 {
		return store.State{}, fmt.Errorf("redisstore: corrupt state version %q", vs)
	}
	blob, _ := vals[1].(string)
	return store.State{Version: v, Blob: []byte(blob)}, nil
}

// CompareAndSetState implements store.StateStore.
func (s *Store) CompareAndSetState(ctx context.Context, expected uint64, blob []byte) (uint64, error) {
	return s.compareAndSetState(ctx, expected, blob, nil)
}

// compareAndSetState is CompareAndSetState, fenced by l when not nil.
func (s *Store) compareAndSetState(ctx context.Context, expected uint64, blob []byte, l *Lease) (uint64, error) {
	if err := store.ValidateBlob(blob); err != nil {
		return 0, err
	}
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	keys, args := []string{s.keyState}, []any{strconv.FormatUint(expected, 10), blob, rand.Text()}
	if l != nil {
		if err := l.usable("set state"); err != nil {
			return 0, err
		}
		if testHookFencedWrite != nil {
			testHookFencedWrite()
		}
		keys, args = append(keys, l.key, l.s.keyOwnerMeta), append(args, l.value, l.ttl.Milliseconds(), l.meta)
	}
	reply, err := casScript.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return 0, s.wrap("set state", err)
	}
	if len(reply) == 2 && reply[0] == int64(2) && l != nil {
		owner, _ := reply[1].(string)
		return 0, l.lostTo(ctx, "set state", owner)
	}
	ok, version, err := parseCASReply(reply)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, &store.ConflictError{Expected: expected, Actual: version}
	}
	if l != nil && l.usable("set state") != nil {
		// Released or lost while the script ran: a key it took back, after
		// Release deleted it or another owner left it, is renewed by
		// nobody and would keep the store from the next gateway a TTL.
		_ = l.drop(ctx)
	}
	return version, nil
}

func parseCASReply(reply []any) (ok bool, version uint64, err error) {
	if len(reply) == 2 {
		flag, isInt := reply[0].(int64)
		vs, _ := reply[1].(string)
		if v, perr := strconv.ParseUint(vs, 10, 64); perr == nil && isInt && (flag == 0 || flag == 1) {
			return flag == 1, v, nil
		}
	}
	return false, 0, fmt.Errorf("redisstore: unexpected reply from the state script: %v", reply)
}
