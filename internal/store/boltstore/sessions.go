package boltstore

import (
	"bytes"
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/baton-rt/baton/internal/store"
)

// PutSession implements store.SessionStore.
func (s *Store) PutSession(ctx context.Context, id string, blob []byte) error {
	if err := store.ValidateSessionID(id); err != nil {
		return err
	}
	if err := store.ValidateBlob(blob); err != nil {
		return err
	}
	blob = bytes.Clone(blob) // a write given up on may still commit it later
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Put([]byte(id), nonNil(blob))
	})
}

// GetSession implements store.SessionStore. It seeks with a cursor rather
// than Get so that an empty snapshot is told apart from a missing one.
func (s *Store) GetSession(ctx context.Context, id string) ([]byte, error) {
	if err := store.ValidateSessionID(id); err != nil {
		return nil, err
	}
	var blob []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketSessions).Cursor().Seek([]byte(id))
		if k == nil || string(k) != id {
			return store.ErrNotFound
		}
		blob = append([]byte{}, v...)
		return nil
	})
	return blob, err
}

// DeleteSession implements store.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := store.ValidateSessionID(id); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete([]byte(id))
	})
}

// ListSessions implements store.SessionStore: bbolt keeps keys in byte
// order, so a page is a cursor walk from after.
func (s *Store) ListSessions(ctx context.Context, after string, limit int) ([]store.Session, error) {
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	var out []store.Session
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSessions).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && bytes.Equal(k, []byte(after)) {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, store.Session{ID: string(k), Blob: append([]byte{}, v...)})
		}
		return nil
	})
	return out, err
}
