package health

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

// SnapshotSamplesSince sums the window's seconds from the one that holds
// since: all of the window when since is older (or zero), the current
// second alone when since is ahead of the clock.
func TestSnapshotSamplesSince(t *testing.T) {
	clk := newFakeClock() // on a whole second
	m, r := newMonitor(t, Config{Window: 10 * time.Second, Clock: clk, Seed: 1})
	start := clk.Now()
	for sec := range 8 { // 100 requests a second, errors in seconds 5 to 7
		r.Add(Requests, 100)
		if sec >= 5 {
			r.Add(ErrorReplies, 10)
		}
		for i := range 100 {
			r.Observe(RequestAck, time.Duration(sec*100+i)*time.Microsecond)
		}
		clk.Advance(time.Second)
	}
	clk.Advance(-time.Second / 2) // now is half into second 7
	for _, tc := range []struct {
		name           string
		since          time.Time
		requests, errs int64
		window         time.Duration
	}{
		{"zero", time.Time{}, 800, 30, 10 * time.Second},
		{"older than the window", start.Add(-time.Hour), 800, 30, 10 * time.Second},
		{"from second 5", start.Add(5 * time.Second), 300, 30, 3 * time.Second},
		{"within second 5", start.Add(5*time.Second + 900*time.Millisecond), 300, 30, 3 * time.Second},
		{"ahead of the clock", start.Add(time.Minute), 100, 10, time.Second},
	} {
		s := r.SnapshotSamplesSince(RequestAck, tc.since)
		l := s.Latency[RequestAck]
		if s.Counts.Requests != tc.requests || s.Counts.Errors() != tc.errs || l.Count != tc.requests || int64(len(l.SamplesMs)) != tc.requests || s.Window != tc.window {
			t.Errorf("%s: %d requests, %d errors, %d latencies (%d samples), window %v; want %d, %d, %d, %v",
				tc.name, s.Counts.Requests, s.Counts.Errors(), l.Count, len(l.SamplesMs), s.Window, tc.requests, tc.errs, tc.requests, tc.window)
		}
	}
	if got := m.SnapshotSamplesSince(router.Green, RequestAck, start.Add(5*time.Second)); got.Counts.Requests != 300 {
		t.Errorf("Monitor.SnapshotSamplesSince: %+v", got.Counts)
	}
	// Since the window's oldest second it is Snapshot, to the bit.
	noMem := func(s Snapshot) Snapshot { s.MemoryBytes = 0; return s }
	if a, b := noMem(r.SnapshotSamplesSince(RequestAck, start)), noMem(r.SnapshotSamples(RequestAck)); a.Counts != b.Counts || a.Latency[RequestAck].P95 != b.Latency[RequestAck].P95 || len(a.Latency[RequestAck].SamplesMs) != len(b.Latency[RequestAck].SamplesMs) {
		t.Errorf("since the oldest second %+v, window %+v", a.Counts, b.Counts)
	}
}
