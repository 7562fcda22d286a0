package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/boltstore"
	"github.com/baton-rt/baton/internal/store/storetest"
)

const maxEvents = 16

func open(t *testing.T, opts boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, boltstore.Options{Path: filepath.Join(t.TempDir(), "baton.db"), MaxEvents: maxEvents})
	}, storetest.Config{
		MaxEvents: maxEvents,
		Reopen: func(t *testing.T, s store.Store) store.Store {
			path := s.(*boltstore.Store).Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, boltstore.Options{Path: path, MaxEvents: maxEvents})
		},
	})
}

// TestLocked opens the same file twice: the second Open must give up after
// its timeout with ErrLocked, and succeed once the first is closed.
func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.db")
	first := open(t, boltstore.Options{Path: path})
	_, err := boltstore.Open(boltstore.Options{Path: path, LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, boltstore.ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: err = %v, want ErrLocked naming %s", err, path)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, boltstore.Options{Path: path, LockTimeout: 100 * time.Millisecond})
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	bad := map[string]boltstore.Options{
		"no path":          {},
		"negative events":  {Path: filepath.Join(dir, "a.db"), MaxEvents: -1},
		"negative timeout": {Path: filepath.Join(dir, "a.db"), LockTimeout: -time.Second},
		"missing dir":      {Path: filepath.Join(dir, "nope", "a.db")},
	}
	for name, opts := range bad {
		if s, err := boltstore.Open(opts); err == nil {
			_ = s.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// TestLowerRetentionOnReopen: a smaller MaxEvents trims the log at Open.
func TestLowerRetentionOnReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "baton.db")
	s := open(t, boltstore.Options{Path: path, MaxEvents: 20})
	for range 20 {
		if _, err := s.AppendEvent(ctx, store.Event{Kind: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	s = open(t, boltstore.Options{Path: path, MaxEvents: 8})
	evs, err := s.ListEvents(ctx, 0, 0)
	if err != nil || len(evs) != 8 || evs[0].Seq != 13 {
		t.Fatalf("after reopening with MaxEvents 8: %d events, first %v, %v", len(evs), evs[:min(1, len(evs))], err)
	}
	if evs, err := s.ListEvents(ctx, ^uint64(0), 0); err != nil || len(evs) != 0 {
		t.Fatalf("ListEvents(after max uint64) = %v, %v", evs, err)
	}
}

// TestCorruptRecord: a damaged event record is reported, not returned.
func TestCorruptRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.db")
	s := open(t, boltstore.Options{Path: path})
	if _, err := s.AppendEvent(context.Background(), store.Event{Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("events")).Put([]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte{9, 9})
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}

	s = open(t, boltstore.Options{Path: path})
	if _, err := s.ListEvents(context.Background(), 0, 0); err == nil || !strings.Contains(err.Error(), "event 1") {
		t.Fatalf("ListEvents over a corrupt record: err = %v", err)
	}
}

// TestCorruptFile: a file damaged on disk (a page overwritten, the file
// cut short) gives errors that name the file and match ErrCorrupt, from
// Open or from the call that reads the damage; never a panic, which would
// take the gateway down with a stack trace instead of a message.
func TestCorruptFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	s := open(t, boltstore.Options{Path: good})
	if _, err := s.CompareAndSetState(ctx, 0, []byte(`{"schema":1}`)); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := s.AppendEvent(ctx, store.Event{Kind: "k", Data: []byte(`{"n":` + strconv.Itoa(i) + `,"pad":"` + strings.Repeat("x", 100) + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	damaged := map[string][]byte{"truncated": raw[:len(raw)/2]}
	for pg := 2; (pg+1)*page <= len(raw); pg++ {
		b := bytes.Clone(raw)
		for i := pg * page; i < (pg+1)*page; i++ {
			b[i] = byte(i*7 + pg) // deterministic garbage
		}
		damaged["page"+strconv.Itoa(pg)] = b
	}
	for name, b := range damaged {
		path := filepath.Join(dir, name+".db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		check := func(op string, err error) {
			if err != nil && (!errors.Is(err, boltstore.ErrCorrupt) || !strings.Contains(err.Error(), path)) {
				t.Errorf("%s: %s: %v, want ErrCorrupt naming %s", name, op, err, path)
			}
		}
		noPanic := func(op string, f func() error) {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: %s panicked: %v", name, op, p)
				}
			}()
			check(op, f())
		}
		var st *boltstore.Store
		noPanic("Open", func() error {
			var err error
			st, err = boltstore.Open(boltstore.Options{Path: path, LockTimeout: 100 * time.Millisecond})
			return err
		})
		if st == nil {
			continue
		}
		noPanic("GetState", func() error { _, err := st.GetState(ctx); return err })
		noPanic("ListEvents", func() error { _, err := st.ListEvents(ctx, 0, 0); return err })
		noPanic("ListSessions", func() error { _, err := st.ListSessions(ctx, "", 0); return err })
		noPanic("AppendEvent", func() error { _, err := st.AppendEvent(ctx, store.Event{Kind: "k"}); return err })
		noPanic("CompareAndSetState", func() error { _, err := st.CompareAndSetState(ctx, 1, []byte(`{}`)); return err })
		noPanic("PutSession", func() error { return st.PutSession(ctx, "s", []byte("x")) })
		_ = st.Close()
	}
}

// TestOpenErrorNamesThePathOnce: a file that cannot be opened (its
// directory missing) is reported with its path once, not as
// "boltstore: open P: open P: no such file or directory".
func TestOpenErrorNamesThePathOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "baton.db")
	_, err := boltstore.Open(boltstore.Options{Path: path})
	if err == nil || strings.Count(err.Error(), path) != 1 || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want an error matching os.ErrNotExist naming %s once", err, path)
	}
}
