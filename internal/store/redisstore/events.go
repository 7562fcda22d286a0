package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/internal/record"
)

// recordField is the stream entry field that holds the event record.
const recordField = "e"

// AppendEvent implements store.EventLog.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) (uint64, error) {
	e, err := store.PrepareEvent(e, time.Now)
	if err != nil {
		return 0, err
	}
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	id, err := s.client.XAdd(ctx, &redis.XAddArgs{
		Stream: s.keyEvents,
		MaxLen: int64(s.maxEvents), // exact: "MAXLEN =", trimmed in the same command
		ID:     "0-*",
		Values: []any{recordField, record.Encode(e)},
	}).Result()
	if err != nil {
		return 0, s.wrap("append event", err)
	}
	seq, err := parseID(id)
	if err != nil {
		return 0, err
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
// record) is an error matching errBadEntry.
func decodeEntry(id string, values map[string]any) (store.Event, error) {
	seq, err := parseID(id)
	if err != nil {
		return store.Event{}, err
	}
	raw, ok := values[recordField].(string)
	if !ok || len(values) != 1 {
		return store.Event{}, fmt.Errorf("%w %s: want the single field %q", errBadEntry, id, recordField)
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
