package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/internal/record"
)

// recordField is the stream entry field that holds the event record;
// writeField holds the id of the AppendEvent call that added the entry.
const (
	recordField = "e"
	writeField  = "w"
)

// appendWindow is how many of the newest entries appendScript searches for
// its call's id: enough for every append that other gateways can make
// between a run whose reply was lost and go-redis's resend (milliseconds).
const appendWindow = 64

// appendScript adds the record ARGV[1] with the call's random id ARGV[2]
// to the stream: XADD with the id 0-* (Redis assigns the next seq) and an
// exact MAXLEN ARGV[3], trimmed in the same command. go-redis sends the
// script again when a connection breaks before the reply came; a run that
// finds its id among the newest ARGV[4] entries returns that entry's id
// instead of adding the event a second time.
//
// With a second key, the lease's (a FencedStore), the append is fenced as
// casScript's write is: refused when the key holds another owner than
// ARGV[5], and a key that expired with nobody taking it is taken back for
// ARGV[6] ms, with its meta KEYS[3] (ARGV[7]; fenceLua).
//
// Reply: the entry id, or {2, owner found}.
var appendFence, appendTakeBack = fenceLua(5)

var appendScript = redis.NewScript(`
for _, entry in ipairs(redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[4])) do
  local f = entry[2]
  for i = 1, #f - 1, 2 do
    if f[i] == 'w' and f[i + 1] == ARGV[2] then
      return entry[1]
    end
  end
end
` + appendFence + `
` + appendTakeBack + `
return redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[3], '0-*', 'e', ARGV[1], 'w', ARGV[2])
`)

// AppendEvent implements store.EventLog.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) (uint64, error) {
	return s.appendEvent(ctx, e, nil)
}

// appendEvent is AppendEvent, fenced by l when not nil.
func (s *Store) appendEvent(ctx context.Context, e store.Event, l *Lease) (uint64, error) {
	const op = "append event"
	e, err := store.PrepareEvent(e, time.Now)
	if err != nil {
		return 0, err
	}
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	keys, args := []string{s.keyEvents}, []any{record.Encode(e), rand.Text(), s.maxEvents, appendWindow}
	if l != nil {
		if err := l.usable(op); err != nil {
			return 0, err
		}
		keys, args = append(keys, l.key, l.s.keyOwnerMeta), append(args, l.value, l.ttl.Milliseconds(), l.meta)
	}
	reply, err := appendScript.Run(ctx, s.client, keys, args...).Result()
	if err != nil {
		return 0, s.wrap(op, err)
	}
	id, ok := reply.(string)
	if !ok {
		if r, isList := reply.([]any); isList && len(r) == 2 && r[0] == int64(2) && l != nil {
			owner, _ := r[1].(string)
			return 0, l.lostTo(ctx, op, owner)
		}
		return 0, fmt.Errorf("redisstore: unexpected reply from the append script: %v", reply)
	}
	seq, err := parseID(id)
	if err != nil {
		return 0, err
	}
	if l != nil && l.usable(op) != nil {
		// Released or lost while the script ran: a key it took back is
		// renewed by nobody (see compareAndSetState).
		_ = l.drop(ctx)
	}
	return seq, nil
}

// ListEvents implements store.EventLog.
func (s *Store) ListEvents(ctx context.Context, after uint64, limit int) ([]store.Event, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if after == ^uint64(0) {
		return nil, nil
	}
	start := "0-" + strconv.FormatUint(after+1, 10)
	var msgs []redis.XMessage
	var err error
	if limit > 0 {
		msgs, err = s.client.XRangeN(ctx, s.keyEvents, start, "+", int64(limit)).Result()
	} else {
		msgs, err = s.client.XRange(ctx, s.keyEvents, start, "+").Result()
	}
	if err != nil {
		return nil, s.wrap("list events", err)
	}
	out := make([]store.Event, 0, len(msgs))
	for _, m := range msgs {
		e, err := decodeEntry(m.ID, m.Values)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

var errBadEntry = errors.New("redisstore: corrupt event entry")

// decodeEntry turns one stream entry into an event. Anything that this
// package did not write (another id shape, missing or extra fields, a bad
// record) is an error matching errBadEntry. The field w is optional: entries
// written before appends carried an id have none.
func decodeEntry(id string, values map[string]any) (store.Event, error) {
	seq, err := parseID(id)
	if err != nil {
		return store.Event{}, err
	}
	raw, ok := values[recordField].(string)
	fields := 1
	if w, has := values[writeField]; has {
		_, isString := w.(string)
		ok = ok && isString
		fields++
	}
	if !ok || len(values) != fields {
		return store.Event{}, fmt.Errorf("%w %s: want the field %q and at most %q", errBadEntry, id, recordField, writeField)
	}
	e, err := record.Decode(seq, []byte(raw))
	if err != nil {
		return store.Event{}, fmt.Errorf("%w %s: %w", errBadEntry, id, err)
	}
	return e, nil
}

// parseID reads the seq out of a stream id "0-<seq>".
func parseID(id string) (uint64, error) {
	rest, ok := strings.CutPrefix(id, "0-")
	if !ok {
		return 0, fmt.Errorf("%w: id %q is not 0-<seq>", errBadEntry, id)
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || seq == 0 || strconv.FormatUint(seq, 10) != rest {
		return 0, fmt.Errorf("%w: id %q is not 0-<seq>", errBadEntry, id)
	}
	return seq, nil
}
