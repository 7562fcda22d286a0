package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/testenv"
)

func (s *suite) testStateNotFound(t *testing.T) {
	st := s.newStore(t)
	if _, err := st.GetState(testenv.Context(t, Timeout)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetState on empty store: err = %v, want ErrNotFound", err)
	}
}

func (s *suite) testStateCompareAndSet(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	v, err := st.CompareAndSetState(ctx, 0, []byte(`{"phase":"idle"}`))
	if err != nil || v != 1 {
		t.Fatalf("create: v=%d err=%v, want 1 nil", v, err)
	}
	wantState(t, st, 1, `{"phase":"idle"}`)

	for _, expected := range []uint64{0, 2, 99} {
		_, err := st.CompareAndSetState(ctx, expected, []byte(`{"phase":"lost"}`))
		var ce *store.ConflictError
		if !errors.Is(err, store.ErrConflict) || !errors.As(err, &ce) || ce.Expected != expected || ce.Actual != 1 {
			t.Fatalf("CAS expecting %d over version 1: err = %#v, want ConflictError{%d, 1}", expected, err, expected)
		}
	}
	wantState(t, st, 1, `{"phase":"idle"}`)

	if v, err = st.CompareAndSetState(ctx, 1, []byte(`{"phase":"shifting","step":1}`)); err != nil || v != 2 {
		t.Fatalf("update: v=%d err=%v, want 2 nil", v, err)
	}
	wantState(t, st, 2, `{"phase":"shifting","step":1}`)
}

func (s *suite) testStateBytesExact(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	blob := []byte("\x00\xff not json at all \r\n{")
	in := append([]byte(nil), blob...)
	if _, err := st.CompareAndSetState(ctx, 0, in); err != nil {
		t.Fatal(err)
	}
	in[0] = 'X' // the store must have kept its own copy
	got, err := st.GetState(ctx)
	if err != nil || !bytes.Equal(got.Blob, blob) {
		t.Fatalf("GetState = %q, %v; want %q", got.Blob, err, blob)
	}
	got.Blob[1] = 'Y' // and hand out copies
	wantState(t, st, 1, string(blob))

	// An empty blob is a valid state.
	if _, err := st.CompareAndSetState(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	wantState(t, st, 2, "")
}

func (s *suite) testStateLimits(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	if _, err := st.CompareAndSetState(ctx, 0, make([]byte, store.MaxBlobSize+1)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("oversized blob: err = %v, want ErrInvalid", err)
	}
	if _, err := st.GetState(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a refused write: err = %v, want ErrNotFound", err)
	}
	big := bytes.Repeat([]byte{'b'}, store.MaxBlobSize)
	if _, err := st.CompareAndSetState(ctx, 0, big); err != nil {
		t.Fatalf("blob of MaxBlobSize: %v", err)
	}
	wantState(t, st, 1, string(big))
}

// testStateConcurrentWriters runs read-modify-write loops that increment a
// counter from several writers: optimistic concurrency must lose no
// increment and give every success its own version.
func (s *suite) testStateConcurrentWriters(t *testing.T) {
	const writers, increments = 4, 25
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	handles := []store.Store{st, s.peer(t, st)}
	if _, err := st.CompareAndSetState(ctx, 0, []byte(`{"n":0}`)); err != nil {
		t.Fatal(err)
	}
	type counter struct{ N int }
	var wg sync.WaitGroup
	versions := make(chan uint64, writers*increments)
	errs := make(chan error, writers)
	for w := range writers {
		h := handles[w%len(handles)]
		wg.Go(func() {
			done := 0
			for attempt := 0; done < increments; attempt++ {
				if attempt > 100*writers*increments {
					errs <- errors.New("too many conflicts: no writer makes progress")
					return
				}
				cur, err := h.GetState(ctx)
				if err != nil {
					errs <- err
					return
				}
				var c counter
				if err := json.Unmarshal(cur.Blob, &c); err != nil {
					errs <- err
					return
				}
				next, _ := json.Marshal(counter{c.N + 1})
				v, err := h.CompareAndSetState(ctx, cur.Version, next)
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if v != cur.Version+1 {
					errs <- errors.New("CompareAndSetState did not return expected+1")
					return
				}
				versions <- v
				done++
			}
		})
	}
	wg.Wait()
	close(errs)
	close(versions)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for v := range versions {
		if seen[v] {
			t.Fatalf("version %d was granted twice", v)
		}
		seen[v] = true
	}
	got, err := st.GetState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	if err := json.Unmarshal(got.Blob, &c); err != nil {
		t.Fatal(err)
	}
	if c.N != writers*increments || got.Version != writers*increments+1 {
		t.Fatalf("after %d increments: n=%d version=%d, want n=%d version=%d",
			writers*increments, c.N, got.Version, writers*increments, writers*increments+1)
	}
}

func wantState(t *testing.T, st store.Store, version uint64, blob string) {
	t.Helper()
	got, err := st.GetState(testenv.Context(t, Timeout))
	if err != nil {
		t.Fatalf("GetState: %v", err)
	}
	if got.Version != version || string(got.Blob) != blob {
		t.Fatalf("GetState = {%d %.60q}, want {%d %.60q}", got.Version, got.Blob, version, blob)
	}
}
