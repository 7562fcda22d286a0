package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/internal/record"
)

// AppendEvent implements store.EventLog: put the record under the bucket's
// next sequence and trim the oldest beyond MaxEvents, in one transaction.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) (uint64, error) {
	e, err := store.PrepareEvent(e, time.Now)
	if err != nil {
		return 0, err
	}
	rec := record.Encode(e)
	var seq uint64
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		seq = n // read only after a nil error: update has returned after fn
		if err := b.Put(seqKey(n), rec); err != nil {
			return err
		}
		return s.trim(b)
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// trim deletes the events older than the newest maxEvents. It seeks the
// first key again after every delete: deleting under a cursor and then
// moving it can skip keys in bbolt.
func (s *Store) trim(b *bolt.Bucket) error {
	last := b.Sequence()
	if last <= uint64(s.maxEvents) {
		return nil
	}
	keep := seqKey(last - uint64(s.maxEvents) + 1) // oldest seq to keep
	c := b.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, keep) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// ListEvents implements store.EventLog.
func (s *Store) ListEvents(ctx context.Context, after uint64, limit int) ([]store.Event, error) {
	var out []store.Event
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if after == ^uint64(0) {
			return nil
		}
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("boltstore: corrupt event key %x", k)
			}
			seq := binary.BigEndian.Uint64(k)
			e, err := record.Decode(seq, v)
			if err != nil {
				return fmt.Errorf("boltstore: event %d: %w", seq, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
