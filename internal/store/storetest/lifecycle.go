package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/testenv"
)

// calls runs every method of st once and returns the errors by name.
func calls(ctx context.Context, st store.Store) map[string]error {
	errs := map[string]error{}
	_, errs["GetState"] = st.GetState(ctx)
	_, errs["CompareAndSetState"] = st.CompareAndSetState(ctx, 0, []byte("x"))
	_, errs["AppendEvent"] = st.AppendEvent(ctx, store.Event{Kind: "k"})
	_, errs["ListEvents"] = st.ListEvents(ctx, 0, 0)
	errs["PutSession"] = st.PutSession(ctx, "s", []byte("x"))
	_, errs["GetSession"] = st.GetSession(ctx, "s")
	errs["DeleteSession"] = st.DeleteSession(ctx, "s")
	_, errs["ListSessions"] = st.ListSessions(ctx, "", 0)
	return errs
}

func (s *suite) testCanceledContext(t *testing.T) {
	st := s.newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range calls(ctx, st) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	// Nothing was written.
	live := testenv.Context(t, Timeout)
	if _, err := st.GetState(live); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("state after canceled writes: err = %v, want ErrNotFound", err)
	}
	if evs, err := st.ListEvents(live, 0, 0); err != nil || len(evs) != 0 {
		t.Errorf("events after canceled appends: %d, %v", len(evs), err)
	}
	if _, err := st.GetSession(live, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after canceled put: err = %v, want ErrNotFound", err)
	}
}

func (s *suite) testClosed(t *testing.T) {
	st := s.newStore(t)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, err := range calls(testenv.Context(t, Timeout), st) {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// testReopen writes everything, reopens, and expects it all back, with the
// event seqs and the retention carrying on where they stood.
func (s *suite) testReopen(t *testing.T) {
	if s.cfg.Reopen == nil {
		t.Skip("the implementation does not persist across a reopen")
	}
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	if _, err := st.CompareAndSetState(ctx, 0, []byte(`{"phase":"shifting","step":2}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CompareAndSetState(ctx, 1, []byte(`{"phase":"shifting","step":3}`)); err != nil {
		t.Fatal(err)
	}
	n := s.cfg.MaxEvents
	appendN(t, st, "before", n+2)
	if err := st.PutSession(ctx, "s1", []byte("snap")); err != nil {
		t.Fatal(err)
	}
	before, err := st.ListEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}

	st = s.cfg.Reopen(t, st)
	wantState(t, st, 2, `{"phase":"shifting","step":3}`)
	wantSession(t, st, "s1", "snap")
	after, err := st.ListEvents(ctx, 0, 0)
	if err != nil || len(after) != len(before) {
		t.Fatalf("events after reopen: %d, %v; want %d", len(after), err, len(before))
	}
	for i := range before {
		wantEvent(t, after[i], before[i])
	}
	seq, err := st.AppendEvent(ctx, store.Event{Kind: "after", Data: json.RawMessage(`{}`)})
	if err != nil || seq != uint64(n+3) {
		t.Fatalf("append after reopen: seq=%d err=%v, want %d", seq, err, n+3)
	}
	if evs, err := st.ListEvents(ctx, 0, 0); err != nil || len(evs) != n || evs[0].Seq != 4 {
		t.Fatalf("retention after reopen: %d events from %v, %v; want %d from 4", len(evs), seqs(evs[:min(1, len(evs))]), err, n)
	}
	if _, err := st.CompareAndSetState(ctx, 2, []byte(`{"phase":"completed"}`)); err != nil {
		t.Fatalf("CAS on the reopened store: %v", err)
	}
}

// testPeer checks that two handles on the same data see each other's writes
// and that the version check spans both.
func (s *suite) testPeer(t *testing.T) {
	if s.cfg.Peer == nil {
		t.Skip("the implementation has no second handle on the same data")
	}
	ctx, a := testenv.Context(t, Timeout), s.newStore(t)
	b := s.cfg.Peer(t, a)
	if _, err := a.CompareAndSetState(ctx, 0, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	wantState(t, b, 1, "from a")
	if _, err := b.CompareAndSetState(ctx, 0, []byte("from b")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("b creating over a's state: err = %v, want ErrConflict", err)
	}
	if _, err := b.AppendEvent(ctx, store.Event{Kind: "b"}); err != nil {
		t.Fatal(err)
	}
	if seq, err := a.AppendEvent(ctx, store.Event{Kind: "a"}); err != nil || seq != 2 {
		t.Fatalf("a's append after b's: seq=%d err=%v, want 2", seq, err)
	}
	if err := a.PutSession(ctx, "s", []byte("x")); err != nil {
		t.Fatal(err)
	}
	wantSession(t, b, "s", "x")
	// Closing one handle leaves the other working.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	wantState(t, a, 1, "from a")
}
