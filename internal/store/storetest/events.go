package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/testenv"
)

func (s *suite) testEventsAppendList(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	if got, err := st.ListEvents(ctx, 0, 0); err != nil || len(got) != 0 {
		t.Fatalf("ListEvents on empty store = %v, %v; want none", got, err)
	}
	at := time.Date(2025, 6, 1, 10, 30, 0, 123456789, time.FixedZone("CEST", 2*3600))
	in := []store.Event{
		{Time: at, Kind: "rollout_started", Data: json.RawMessage(`{ "steps": [10, 25] }`)},
		{Seq: 999, Time: at.Add(time.Second), Kind: "verdict", Data: json.RawMessage(`{"pass":true,"p":0.0312,"ci":[-0.01,0.004]}`)},
		{Time: at.Add(2 * time.Second), Kind: "paused"}, // no data
		{Time: at.Add(3 * time.Second), Kind: "note", Data: json.RawMessage(`"caf\u00e9 ☕"`)},
	}
	for i, e := range in {
		seq, err := st.AppendEvent(ctx, e)
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("AppendEvent #%d: seq=%d err=%v, want %d nil", i, seq, err, i+1)
		}
	}
	before := time.Now()
	seq, err := st.AppendEvent(ctx, store.Event{Kind: "stamped"})
	after := time.Now()
	if err != nil || seq != 5 {
		t.Fatalf("AppendEvent without time: seq=%d err=%v", seq, err)
	}

	got, err := st.ListEvents(ctx, 0, 0)
	if err != nil || len(got) != 5 {
		t.Fatalf("ListEvents = %d events, %v; want 5", len(got), err)
	}
	for i, e := range in {
		e.Seq = uint64(i + 1)
		wantEvent(t, got[i], e)
	}
	if g := got[4]; g.Seq != 5 || g.Kind != "stamped" || g.Time.Before(before.Add(-time.Second)) || g.Time.After(after.Add(time.Second)) {
		t.Fatalf("stamped event = %+v, want seq 5 with a time near %v", g, before)
	}
}

func (s *suite) testEventsPaging(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	appendN(t, st, "e", 6)
	cases := []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 2, []uint64{1, 2}},
		{2, 2, []uint64{3, 4}},
		{4, 0, []uint64{5, 6}},
		{4, 100, []uint64{5, 6}},
		{5, -1, []uint64{6}},
		{6, 0, nil},
		{1000, 3, nil},
	}
	for _, c := range cases {
		got, err := st.ListEvents(ctx, c.after, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if gs := seqs(got); fmt.Sprint(gs) != fmt.Sprint(c.want) {
			t.Errorf("ListEvents(after %d, limit %d) = %v, want %v", c.after, c.limit, gs, c.want)
		}
	}
}

func (s *suite) testEventsInvalid(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	bad := map[string]store.Event{
		"empty kind":    {Kind: ""},
		"long kind":     {Kind: strings.Repeat("k", store.MaxKindLen+1)},
		"invalid JSON":  {Kind: "k", Data: json.RawMessage(`{"a":`)},
		"two values":    {Kind: "k", Data: json.RawMessage(`1 2`)},
		"data too big":  {Kind: "k", Data: json.RawMessage(`"` + strings.Repeat("x", store.MaxEventDataSize) + `"`)},
		"time too late": {Kind: "k", Time: time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, e := range bad {
		if _, err := st.AppendEvent(ctx, e); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// Refused appends consume no seq.
	maxData := json.RawMessage(`"` + strings.Repeat("x", store.MaxEventDataSize-2) + `"`)
	seq, err := st.AppendEvent(ctx, store.Event{Kind: strings.Repeat("k", store.MaxKindLen), Data: maxData})
	if err != nil || seq != 1 {
		t.Fatalf("first valid append (limits exactly met): seq=%d err=%v, want 1 nil", seq, err)
	}
	got, err := st.ListEvents(ctx, 0, 0)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Data, maxData) {
		t.Fatalf("ListEvents after refused appends: %d events, %v", len(got), err)
	}
}

// testEventsConcurrent appends from several goroutines (and handles, where
// the implementation has a peer): every append gets its own seq, the seqs
// are exactly 1..n, and the log lists them in seq order without gaps.
func (s *suite) testEventsConcurrent(t *testing.T) {
	const writers, each = 4, 20
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	handles := []store.Store{st, s.peer(t, st)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []uint64
	errs := make(chan error, writers)
	for w := range writers {
		h := handles[w%len(handles)]
		wg.Go(func() {
			for i := range each {
				seq, err := h.AppendEvent(ctx, store.Event{Kind: "w", Data: json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got = append(got, seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("seqs from %d appends are not exactly 1..%d: %v", len(got), len(got), got)
		}
	}
	listed, err := st.ListEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	total := writers * each
	want := min(total, s.cfg.MaxEvents)
	if len(listed) != want || listed[0].Seq != uint64(total-want+1) {
		t.Fatalf("ListEvents = %d events from seq %v, want the newest %d", len(listed), seqs(listed[:1]), want)
	}
	checkConsecutive(t, listed)
	// Each writer's events appear in the order it appended them.
	last := map[string]int{}
	for _, e := range listed {
		var d struct{ W, I int }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprint(d.W)
		if prev, ok := last[key]; ok && d.I <= prev {
			t.Fatalf("writer %d: event %d listed after event %d", d.W, d.I, prev)
		}
		last[key] = d.I
	}
}

func (s *suite) testEventsRetention(t *testing.T) {
	ctx, st := testenv.Context(t, Timeout), s.newStore(t)
	n := s.cfg.MaxEvents
	appendN(t, st, "r", n)
	got, err := st.ListEvents(ctx, 0, 0)
	if err != nil || len(got) != n || got[0].Seq != 1 {
		t.Fatalf("a full log: %d events from %v, %v; want %d from 1", len(got), seqs(got[:min(1, len(got))]), err, n)
	}
	appendN(t, st, "r", 5) // overflow: the five oldest go
	got, err = st.ListEvents(ctx, 0, 0)
	if err != nil || len(got) != n || got[0].Seq != 6 || got[n-1].Seq != uint64(n+5) {
		t.Fatalf("after overflow: %d events %v, %v; want %d from seq 6", len(got), seqs(got), err, n)
	}
	checkConsecutive(t, got)
	// Paging from inside the trimmed range starts at the oldest retained.
	if page, err := st.ListEvents(ctx, 2, 3); err != nil || fmt.Sprint(seqs(page)) != "[6 7 8]" {
		t.Fatalf("ListEvents(after 2, limit 3) = %v, %v; want [6 7 8]", seqs(page), err)
	}
	if seq, err := st.AppendEvent(ctx, store.Event{Kind: "r"}); err != nil || seq != uint64(n+6) {
		t.Fatalf("append after trimming: seq=%d err=%v, want %d", seq, err, n+6)
	}
}

func appendN(t *testing.T, st store.Store, kind string, n int) {
	t.Helper()
	ctx := testenv.Context(t, Timeout)
	for i := range n {
		if _, err := st.AppendEvent(ctx, store.Event{Kind: kind, Data: json.RawMessage(fmt.Sprint(i))}); err != nil {
			t.Fatalf("AppendEvent: %v", err)
		}
	}
}

func seqs(es []store.Event) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func checkConsecutive(t *testing.T, es []store.Event) {
	t.Helper()
	for i := 1; i < len(es); i++ {
		if es[i].Seq != es[i-1].Seq+1 {
			t.Fatalf("listed seqs have a gap or are out of order: %v", seqs(es))
		}
	}
}

func wantEvent(t *testing.T, got, want store.Event) {
	t.Helper()
	if got.Seq != want.Seq || got.Kind != want.Kind || !bytes.Equal(got.Data, want.Data) || !got.Time.Equal(want.Time) {
		t.Fatalf("event = {%d %v %q %s}, want {%d %v %q %s}", got.Seq, got.Time, got.Kind, got.Data, want.Seq, want.Time, want.Kind, want.Data)
	}
	if got.Time.Location() != time.UTC {
		t.Fatalf("event time %v is not in UTC", got.Time)
	}
}
