package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

// roundTrip sends recs through JSON, as the gateways exchange them.
func roundTrip(t *testing.T, recs []Second) []Second {
	t.Helper()
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	var out []Second
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// gateway is one gateway's monitor in a test of several.
type gateway struct {
	m    *Monitor
	vals []uint32 // every green RequestAck latency recorded, µs
}

// record adds, this second, n green requests with errs error replies and
// n latencies from base µs up, and one blue request.
func (g *gateway) record(n, errs int, base uint32) {
	r := g.m.Backend(router.Green)
	r.Add(Requests, int64(n))
	r.Add(ErrorReplies, int64(errs))
	for i := range n {
		v := base + uint32(i)*7
		r.Observe(RequestAck, time.Duration(v)*time.Microsecond)
		g.vals = append(g.vals, v)
	}
	g.m.Backend(router.Blue).Count(Requests)
}

// Three gateways record for five seconds; one imports the others'
// exported seconds (through JSON). Its gates' reader merges them: counts
// exact, quantiles within the histogram's accuracy of the exact order
// statistics of all the latencies, samples drawn from every gateway in
// proportion to its traffic. Its own Snapshot, the API's and the
// dashboard's, stays its own.
func TestImportedSecondsMergeIntoTheGatesSnapshot(t *testing.T) {
	clk := newFakeClock()
	const reservoir = 200
	mk := func(seed uint64) *gateway {
		m, _ := newMonitor(t, Config{Window: 10 * time.Second, Reservoir: reservoir, Clock: clk, Seed: seed})
		return &gateway{m: m}
	}
	a, b, c := mk(1), mk(2), mk(3)
	for range 5 {
		a.record(100, 0, 1_000)
		b.record(300, 30, 20_000)
		c.record(50, 5, 400_000)
		clk.Advance(time.Second)
	}
	clk.Advance(300 * time.Millisecond)
	for i, g := range []*gateway{b, c} {
		recs, _ := g.m.ExportSince(0)
		if err := a.m.Import(fmt.Sprintf("gw-%d", i), roundTrip(t, recs)); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.m.Sources(); n != 2 {
		t.Fatalf("%d sources, want 2", n)
	}

	s := a.m.SnapshotSamplesSince(router.Green, RequestAck, time.Time{})
	if s.Counts.Requests != 5*450 || s.Counts.ErrorReplies != 5*35 {
		t.Errorf("merged counts %+v, want %d requests and %d error replies", s.Counts, 5*450, 5*35)
	}
	if blue := a.m.SnapshotSamplesSince(router.Blue, RequestAck, time.Time{}); blue.Counts.Requests != 15 {
		t.Errorf("merged blue requests %d, want 15", blue.Counts.Requests)
	}
	all := slices.Concat(a.vals, b.vals, c.vals)
	slices.Sort(all)
	l := s.Latency[RequestAck]
	if l.Count != int64(len(all)) || l.Max != time.Duration(all[len(all)-1])*time.Microsecond {
		t.Errorf("merged latency count %d max %v, want %d and %dµs", l.Count, l.Max, len(all), all[len(all)-1])
	}
	var sum uint64
	for _, v := range all {
		sum += uint64(v)
	}
	if want := time.Duration(sum/uint64(len(all))) * time.Microsecond; l.Mean != want {
		t.Errorf("merged mean %v, want %v", l.Mean, want)
	}
	for _, q := range []struct {
		q   float64
		got time.Duration
	}{{0.50, l.P50}, {0.95, l.P95}, {0.99, l.P99}} {
		rank := int(math.Ceil(q.q * float64(len(all))))
		exact := float64(all[rank-1])
		if got := float64(q.got.Microseconds()); math.Abs(got-exact) > exact/32+1 {
			t.Errorf("merged p%v %v, exact %vµs: beyond the histogram's 1/32", q.q*100, q.got, exact)
		}
	}
	if len(l.SamplesMs) != reservoir {
		t.Fatalf("%d merged samples, want the reservoir's %d", len(l.SamplesMs), reservoir)
	}
	var fromB, fromC int
	for _, ms := range l.SamplesMs {
		switch {
		case ms >= 400:
			fromC++
		case ms >= 20:
			fromB++
		}
	}
	// 300 and 50 of every 450: the draw is proportional per second, to
	// within one value a second.
	if wantB, wantC := reservoir*300/450, reservoir*50/450; abs(fromB-wantB) > 5 || abs(fromC-wantC) > 5 {
		t.Errorf("samples from b %d, c %d; want about %d and %d", fromB, fromC, wantB, wantC)
	}

	if own := a.m.Snapshot(router.Green); own.Counts.Requests != 500 || own.Latency[RequestAck].Count != 500 {
		t.Errorf("the local snapshot holds %+v, want this gateway's 500 requests only", own.Counts)
	}
	if own := a.m.Summary(router.Green); own.Counts.Requests != 500 {
		t.Errorf("the local summary holds %+v", own.Counts)
	}
}

func abs(v int) int { return max(v, -v) }

// ExportSince gives the seconds after its argument up to the current,
// partial one; the next call from the second before the current re-sends
// that one whole. Importing it again replaces it: nothing counts twice.
func TestExportSinceResendsThePartialSecond(t *testing.T) {
	clk := newFakeClock()
	a, _ := newMonitor(t, Config{Window: 10 * time.Second, Clock: clk})
	b, br := newMonitor(t, Config{Window: 10 * time.Second, Clock: clk})

	br.Add(Requests, 10)
	clk.Advance(time.Second)
	br.Add(Requests, 20) // the current second, partial
	recs, cur := b.ExportSince(0)
	if len(recs) != 2 || cur != clk.Now().Unix() {
		t.Fatalf("first export: %d records, current %d; want 2 and %d", len(recs), cur, clk.Now().Unix())
	}
	if err := a.Import("b", roundTrip(t, recs)); err != nil {
		t.Fatal(err)
	}
	br.Add(Requests, 5) // the same second, now later
	clk.Advance(time.Second)
	br.Add(Requests, 1)
	recs, _ = b.ExportSince(cur - 1)
	if len(recs) != 2 || recs[0].Sec != cur {
		t.Fatalf("second export: %+v, want second %d again and the new one", recs, cur)
	}
	if err := a.Import("b", roundTrip(t, recs)); err != nil {
		t.Fatal(err)
	}
	if got := a.SnapshotSamplesSince(router.Green, RequestAck, time.Time{}).Counts.Requests; got != 36 {
		t.Errorf("merged %d requests, want 36", got)
	}
	// Nothing before the window is exported.
	clk.Advance(20 * time.Second)
	if recs, _ := b.ExportSince(0); len(recs) != 0 {
		t.Errorf("exported %+v from outside the window", recs)
	}
}

// A source silent for longer than the window is forgotten, its seconds
// and its place among the sources; a source that keeps sending, with
// seconds older than the window, adds none of them.
func TestImportForgetsASilentSource(t *testing.T) {
	clk := newFakeClock()
	a, _ := newMonitor(t, Config{Window: 5 * time.Second, Clock: clk})
	b, br := newMonitor(t, Config{Window: 5 * time.Second, Clock: clk})
	br.Add(Requests, 10)
	recs, _ := b.ExportSince(0)
	if err := a.Import("b", recs); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5*time.Second + 500*time.Millisecond)
	if got := a.SnapshotSamplesSince(router.Green, RequestAck, time.Time{}).Counts.Requests; got != 0 {
		t.Errorf("%d requests from a second out of the window", got)
	}
	if err := a.Import("b", recs); err != nil { // stale: nothing kept
		t.Fatal(err)
	}
	if got := a.SnapshotSamplesSince(router.Green, RequestAck, time.Time{}).Counts.Requests; got != 0 {
		t.Errorf("%d requests imported from before the window", got)
	}
	clk.Advance(5*time.Second + 500*time.Millisecond)
	if n := a.Sources(); n != 0 {
		t.Errorf("%d sources after a silence longer than the window, want 0", n)
	}
}

// Bounds: at most MaxSources sources; per second no more samples than the
// reservoir; records of an unknown backend, kind or bucket, negative
// counts, and seconds ahead of the clock are dropped or clamped.
func TestImportBounds(t *testing.T) {
	clk := newFakeClock()
	a, _ := newMonitor(t, Config{Window: 5 * time.Second, Reservoir: 10, Clock: clk})
	for i := range MaxSources {
		if err := a.Import(fmt.Sprint("gw-", i), nil); err != nil {
			t.Fatalf("source %d: %v", i, err)
		}
	}
	if err := a.Import("one-too-many", nil); !errors.Is(err, ErrTooManySources) {
		t.Fatalf("source %d: %v, want ErrTooManySources", MaxSources+1, err)
	}
	if err := a.Import("gw-0", nil); err != nil {
		t.Fatalf("a known source refused: %v", err)
	}
	clk.Advance(6 * time.Second) // every source forgotten
	now := clk.Now().Unix()

	var counters [NumCounters]int64
	counters[Requests] = 3
	counters[ErrorReplies] = -5
	samples := make([]uint32, 50)
	for i := range samples {
		samples[i] = 1000
	}
	recs := []Second{
		{Backend: uint8(router.Green), Sec: now, Counters: counters, Kinds: []KindSecond{
			{Kind: uint8(RequestAck), Count: 50, Sum: 50_000, Min: 1000, Max: 1000, Hist: [][2]uint32{{uint32(bucketOf(1000)), 50}, {numBuckets + 3, 7}}, Samples: samples},
			{Kind: uint8(NumKinds), Count: 9},
		}},
		{Backend: 9, Sec: now, Counters: counters},
		{Backend: uint8(router.Green), Sec: now + 5, Counters: counters},
	}
	if err := a.Import("gw", recs); err != nil {
		t.Fatal(err)
	}
	s := a.SnapshotSamplesSince(router.Green, RequestAck, time.Time{})
	l := s.Latency[RequestAck]
	if s.Counts.Requests != 3 || s.Counts.ErrorReplies != 0 || l.Count != 50 || len(l.SamplesMs) != 10 || l.P99 != time.Millisecond {
		t.Errorf("imported %+v, latency %d (%d samples, p99 %v); want 3 requests, 0 errors, 50 latencies, 10 samples, p99 1ms",
			s.Counts, l.Count, len(l.SamplesMs), l.P99)
	}
	clk.Advance(5 * time.Second)
	if got := a.SnapshotSamplesSince(router.Green, RequestAck, time.Time{}).Counts.Requests; got != 0 {
		t.Errorf("a second from ahead of the clock was kept: %d requests", got)
	}
}

// The recording hot path allocates nothing, imports or not.
func TestRecordingDoesNotAllocateWithImports(t *testing.T) {
	m, r := newMonitor(t, Config{Window: 5 * time.Second, Reservoir: 10})
	recs, _ := m.ExportSince(0)
	if err := m.Import("other", recs); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		r.Count(Requests)
		r.Observe(RequestAck, time.Millisecond)
	}); n != 0 {
		t.Errorf("%v allocations per record", n)
	}
}
