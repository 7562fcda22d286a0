package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker"
)

// publishScript appends one message. KEYS: meta hash, history list.
// ARGV: payload, history size, pub/sub channel, broker id, ttl in ms (0 =
// none). Returns {seq, epoch}. Run it with runOnce.
var publishScript = redis.NewScript(publishSrc)

const publishSrc = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
	local now = redis.call('TIME')
	epoch = ARGV[4] .. '-' .. now[1] .. string.format('%06d', tonumber(now[2]))
	redis.call('DEL', KEYS[2])
	redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
local ttl = tonumber(ARGV[5])
if ttl > 0 then
	redis.call('PEXPIRE', KEYS[1], ttl)
	redis.call('PEXPIRE', KEYS[2], ttl)
elseif redis.call('PERSIST', KEYS[1]) == 1 then
	-- HINCRBY and RPUSH keep a TTL set before (by a process configured
	-- with one): without this, a busy stream would still expire. The two
	-- keys get their TTL together, so the meta hash tells for both, and a
	-- stream without one costs a single PERSIST a publish.
	redis.call('PERSIST', KEYS[2])
end
redis.call('PUBLISH', ARGV[3], string.format('%d', seq) .. ':' .. epoch .. ':' .. ARGV[1])
return {seq, epoch}
`

// historyScript reads messages after a seq. KEYS: meta hash, history list.
// ARGV: since, limit[, bytes]. Returns {seq, epoch, oldest, gone,
// {payloads...}} where oldest is the seq of the first retained message (0 if
// none) and gone is 1 when messages after since are no longer retained.
// With bytes, the payloads stop before the one that would take their total
// past it, the first excepted.
var historyScript = redis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'seq', 'epoch')
local seq = tonumber(m[1]) or 0
local epoch = m[2] or ''
local n = redis.call('LLEN', KEYS[2])
-- A history without its meta hash (evicted alone) is a stream that ended:
-- the next publish starts a new epoch and drops it.
if not m[2] then n = 0 end
local oldest = 0
if n > 0 then oldest = seq - n + 1 end
local since = tonumber(ARGV[1])
if since >= seq then return {seq, epoch, oldest, 0, {}} end
if n == 0 or since + 1 < oldest then return {seq, epoch, oldest, 1, {}} end
local last = math.min(seq, since + tonumber(ARGV[2]))
local items = redis.call('LRANGE', KEYS[2], since + 1 - oldest, last - oldest)
local budget = tonumber(ARGV[3])
if budget then
  local size = 0
  for i = 1, #items do
    size = size + #items[i]
    if size > budget and i > 1 then
      for j = #items, i, -1 do items[j] = nil end
      break
    end
  end
end
return {seq, epoch, oldest, 0, items}
`)

// historyArgs are historyScript's ARGV; bytes 0 sets no byte bound.
func historyArgs(since uint64, limit, bytes int) []any {
	if bytes > 0 {
		return []any{since, limit, bytes}
	}
	return []any{since, limit}
}

// resetScript drops a stream that went back: its meta hash and history,
// when its epoch is still ARGV[1] (a stream that went back stays wrong in
// that epoch, also once it is published past the seq a reader had seen).
// The next publish then starts a new epoch, so no seq of the old stream is
// handed out again, and every reader sees the change.
// KEYS: meta hash, history list. Returns 1 when it dropped them.
var resetScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then
	redis.call('DEL', KEYS[1], KEYS[2])
	return 1
end
return 0
`)

var errBadReply = errors.New("unexpected reply from script")

func runPublish(ctx context.Context, rdb redis.UniversalClient, k keys, data []byte, historySize int, id string, ttlMilli int64) (uint64, string, error) {
	res, err := runOnce(ctx, rdb, "evalsha", publishScript.Hash(), k, data, historySize, k.pubsub, id, ttlMilli).Slice()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") { // not run: Redis has not loaded it
		res, err = runOnce(ctx, rdb, "eval", publishSrc, k, data, historySize, k.pubsub, id, ttlMilli).Slice()
	}
	if err != nil {
		return 0, "", err
	}
	if len(res) != 2 {
		return 0, "", fmt.Errorf("%w: %v", errBadReply, res)
	}
	seq, ok1 := res[0].(int64)
	epoch, ok2 := res[1].(string)
	if !ok1 || !ok2 || seq <= 0 {
		return 0, "", fmt.Errorf("%w: %v", errBadReply, res)
	}
	return uint64(seq), epoch, nil
}

// runOnce sends "op script 2 meta hist args..." (EVAL or EVALSHA) once.
// go-redis sends a command again after some failures (an EOF, a timeout)
// that may come after Redis ran it: a publish would then be run twice,
// its message delivered under two seqs.
func runOnce(ctx context.Context, rdb redis.UniversalClient, op, script string, k keys, args ...any) *redis.Cmd {
	a := make([]any, 0, 5+len(args))
	a = append(append(a, op, script, 2, k.meta, k.hist), args...)
	cmd := redis.NewCmd(ctx, a...)
	_ = rdb.Process(ctx, noRetryCmd{cmd})
	return cmd
}

// noRetryCmd is a command go-redis does not send again after a failure.
type noRetryCmd struct{ *redis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

func runHistory(ctx context.Context, rdb redis.Scripter, k keys, channel string, since uint64, limit, bytes int) ([]broker.Message, broker.Position, error) {
	res, err := historyScript.Run(ctx, rdb, []string{k.meta, k.hist}, historyArgs(since, limit, bytes)...).Slice()
	if err != nil {
		return nil, broker.Position{}, err
	}
	return parseHistory(res, channel, since)
}

// parseHistory reads historyScript's reply to a read after since.
func parseHistory(res []any, channel string, since uint64) ([]broker.Message, broker.Position, error) {
	if len(res) != 5 {
		return nil, broker.Position{}, fmt.Errorf("%w: %d elements", errBadReply, len(res))
	}
	seq, ok1 := res[0].(int64)
	epoch, ok2 := res[1].(string)
	oldest, ok3 := res[2].(int64)
	gone, ok4 := res[3].(int64)
	items, ok5 := res[4].([]any)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || seq < 0 || oldest < 0 {
		return nil, broker.Position{}, fmt.Errorf("%w: %v", errBadReply, res[:4])
	}
	pos := broker.Position{Seq: uint64(seq), Epoch: epoch}
	if gone == 1 {
		return nil, pos, &broker.HistoryGoneError{Channel: channel, Since: since, Oldest: uint64(oldest), Epoch: epoch}
	}
	if len(items) == 0 {
		return nil, pos, nil
	}
	msgs := make([]broker.Message, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, broker.Position{}, fmt.Errorf("%w: history item of type %T", errBadReply, it)
		}
		msgs[i] = broker.Message{Channel: channel, Seq: since + 1 + uint64(i), Epoch: epoch, Data: []byte(s)}
	}
	return msgs, pos, nil
}

var errMalformed = errors.New("redisbroker: malformed pub/sub payload")

// parsePayload splits a pub/sub payload "<seq>:<epoch>:<data>" as written by
// publishScript. The data part is everything after the second colon.
func parsePayload(p string) (seq uint64, epoch string, data []byte, err error) {
	seqStr, rest, ok := strings.Cut(p, ":")
	if !ok {
		return 0, "", nil, errMalformed
	}
	epoch, rest, ok = strings.Cut(rest, ":")
	if !ok || epoch == "" {
		return 0, "", nil, errMalformed
	}
	seq, err = strconv.ParseUint(seqStr, 10, 64)
	if err != nil || seq == 0 {
		return 0, "", nil, errMalformed
	}
	return seq, epoch, []byte(rest), nil
}
