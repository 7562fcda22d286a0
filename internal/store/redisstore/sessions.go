package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/store"
)

// listScript reads a page of ids from the sorted set and their blobs from
// the hash in one step. ARGV[1] is the ZRANGE BYLEX start ("-" or
// "(<after>"), ARGV[2] the page size. Reply: id, blob, id, blob, ...
var listScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local blob = redis.call('HGET', KEYS[2], id)
  if blob then
    out[#out + 1] = id
    out[#out + 1] = blob
  end
end
return out
`)

// PutSession implements store.SessionStore.
func (s *Store) PutSession(ctx context.Context, id string, blob []byte) error {
	if err := store.ValidateSessionID(id); err != nil {
		return err
	}
	if err := store.ValidateBlob(blob); err != nil {
		return err
	}
	if err := s.usable(ctx); err != nil {
		return err
	}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keySessions, id, blob)
		p.ZAdd(ctx, s.keySessionIDs, redis.Z{Member: id})
		return nil
	})
	return s.wrap("put session", err)
}

// GetSession implements store.SessionStore.
func (s *Store) GetSession(ctx context.Context, id string) ([]byte, error) {
	if err := store.ValidateSessionID(id); err != nil {
		return nil, err
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	blob, err := s.client.HGet(ctx, s.keySessions, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.wrap("get session", err)
	}
	return blob, nil
}

// DeleteSession implements store.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := store.ValidateSessionID(id); err != nil {
		return err
	}
	if err := s.usable(ctx); err != nil {
		return err
	}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, s.keySessions, id)
		p.ZRem(ctx, s.keySessionIDs, id)
		return nil
	})
	return s.wrap("delete session", err)
}

// ListSessions implements store.SessionStore. Equal scores make the sorted
// set order its members byte-wise, which is the order the contract asks for.
func (s *Store) ListSessions(ctx context.Context, after string, limit int) ([]store.Session, error) {
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	start := "-"
	if after != "" {
		start = "(" + after
	}
	reply, err := listScript.Run(ctx, s.client, []string{s.keySessionIDs, s.keySessions}, start, limit).Slice()
	if err != nil {
		return nil, s.wrap("list sessions", err)
	}
	if len(reply)%2 != 0 {
		return nil, fmt.Errorf("redisstore: odd reply from the list script (%d items)", len(reply))
	}
	out := make([]store.Session, 0, len(reply)/2)
	for i := 0; i < len(reply); i += 2 {
		id, ok1 := reply[i].(string)
		blob, ok2 := reply[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("redisstore: unexpected item types in the list script reply")
		}
		out = append(out, store.Session{ID: id, Blob: []byte(blob)})
	}
	return out, nil
}
