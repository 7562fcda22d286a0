package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/testenv"
)

func (s *suite) testSessions(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	if _, err := st.GetSession(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession of a missing id: err = %v, want ErrNotFound", err)
	}
	blob := []byte("\x00{\"subs\":{\"prices\":41}}\xff")
	in := append([]byte(nil), blob...)
	if err := st.PutSession(ctx, "s1", in); err != nil {
		t.Fatal(err)
	}
	in[0] = 'X'
	got, err := st.GetSession(ctx, "s1")
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("GetSession = %q, %v; want %q", got, err, blob)
	}
	got[1] = 'Y'
	wantSession(t, st, "s1", string(blob))

	if err := st.PutSession(ctx, "s1", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	wantSession(t, st, "s1", "v2")
	if err := st.PutSession(ctx, "s2", nil); err != nil {
		t.Fatal(err)
	}
	wantSession(t, st, "s2", "")

	if err := st.DeleteSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSession(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession after delete: err = %v, want ErrNotFound", err)
	}
	if err := st.DeleteSession(ctx, "s1"); err != nil {
		t.Fatalf("deleting a missing id: %v", err)
	}
	wantSession(t, st, "s2", "")
}

func (s *suite) testSessionsList(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	if got, err := st.ListSessions(ctx, "", 0); err != nil || len(got) != 0 {
		t.Fatalf("ListSessions on empty store = %v, %v", got, err)
	}
	ids := []string{"b", "a", "a\x00", "ä", "A", "a b", "z", "ab", strings.Repeat("m", store.MaxSessionIDLen)}
	for i := range 30 {
		ids = append(ids, fmt.Sprintf("sess-%03d", i))
	}
	for _, id := range ids {
		if err := st.PutSession(ctx, id, []byte("blob of "+id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteSession(ctx, "z"); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "z" })
	sort.Strings(want) // byte-wise order

	var got []string
	after := ""
	for page := 0; ; page++ {
		if page > len(ids) {
			t.Fatal("ListSessions paging does not end")
		}
		ss, err := st.ListSessions(ctx, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) > 7 {
			t.Fatalf("page of %d sessions, limit 7", len(ss))
		}
		for _, se := range ss {
			if string(se.Blob) != "blob of "+se.ID {
				t.Fatalf("session %q has blob %q", se.ID, se.Blob)
			}
			got = append(got, se.ID)
		}
		if len(ss) < 7 {
			break
		}
		after = ss[len(ss)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged ids:\n got %q\nwant %q", got, want)
	}
	all, err := st.ListSessions(ctx, "", 0)
	if err != nil || len(all) != len(want) {
		t.Fatalf("ListSessions with the default limit: %d sessions, %v; want %d", len(all), err, len(want))
	}
	if rest, err := st.ListSessions(ctx, "sess-027", 100); err != nil || len(rest) != 3 || rest[0].ID != "sess-028" || rest[2].ID != "ä" {
		t.Fatalf("ListSessions(after sess-027) = %v, %v", rest, err)
	}
}

func (s *suite) testSessionsInvalid(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	long := strings.Repeat("x", store.MaxSessionIDLen+1)
	for _, id := range []string{"", long} {
		if err := st.PutSession(ctx, id, nil); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutSession(%.10q): err = %v, want ErrInvalid", id, err)
		}
		if _, err := st.GetSession(ctx, id); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("GetSession(%.10q): err = %v, want ErrInvalid", id, err)
		}
		if err := st.DeleteSession(ctx, id); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("DeleteSession(%.10q): err = %v, want ErrInvalid", id, err)
		}
	}
	if err := st.PutSession(ctx, "s", make([]byte, store.MaxBlobSize+1)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("oversized snapshot: err = %v, want ErrInvalid", err)
	}
	if _, err := st.GetSession(ctx, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a refused put: err = %v, want ErrNotFound", err)
	}
}

func wantSession(t *testing.T, st store.Store, id, blob string) {
	t.Helper()
	got, err := st.GetSession(testenv.Context(t, Timeout), id)
	if err != nil || string(got) != blob {
		t.Fatalf("GetSession(%q) = %q, %v; want %q", id, got, err, blob)
	}
}
