package health

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// naiveCumBucket is the definition cumBucketOf must match: the first bound
// at or above us, or the +Inf bucket.
func naiveCumBucket(us uint32) int {
	for i, b := range latencyBoundsMicros {
		if us <= b {
			return i
		}
	}
	return len(latencyBoundsMicros)
}

func TestCumBucketOf(t *testing.T) {
	var vals []uint32
	for i := range numBuckets {
		lo, w := bucketBounds(i)
		if lo > maxMicros {
			break
		}
		vals = append(vals, uint32(lo), uint32(min(lo+w-1, maxMicros)))
	}
	for _, b := range latencyBoundsMicros {
		vals = append(vals, b-1, b, b+1)
	}
	vals = append(vals, 0, maxMicros)
	for _, us := range vals {
		if got, want := cumBucketOf(bucketOf(us), us), naiveCumBucket(us); got != want {
			t.Errorf("cumBucketOf(%d µs) = %d, want %d", us, got, want)
		}
	}
}

func TestLatencyHistogram(t *testing.T) {
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Window: 2 * time.Second, Clock: clk})

	if h := r.LatencyHistogram(RequestAck); h.Count != 0 || h.Sum != 0 || len(h.Cumulative) != len(h.Bounds) {
		t.Fatalf("empty: %+v", h)
	}
	// Bounds are inclusive: 500 µs is in le=0.0005, 501 µs is not.
	for _, d := range []time.Duration{
		0, 500 * time.Microsecond, 501 * time.Microsecond, 3 * time.Millisecond,
		3 * time.Millisecond, 10 * time.Second, 11 * time.Second, -time.Second,
	} {
		r.Observe(RequestAck, d)
		clk.Advance(time.Second) // the window forgets; the histogram must not
	}
	r.Observe(Handshake, time.Millisecond)

	h := r.LatencyHistogram(RequestAck)
	if !slices.Equal(h.Bounds, []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}) {
		t.Fatalf("bounds %v", h.Bounds)
	}
	want := []uint64{3, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7}
	if !slices.Equal(h.Cumulative, want) {
		t.Errorf("cumulative %v, want %v", h.Cumulative, want)
	}
	wantSum := 500*time.Microsecond + 501*time.Microsecond + 6*time.Millisecond + 21*time.Second
	if h.Count != 8 || h.Sum != wantSum {
		t.Errorf("count %d sum %v, want 8 %v", h.Count, h.Sum, wantSum)
	}
	if w := r.Snapshot().Latency[RequestAck].Count; w != 1 {
		t.Errorf("window count %d, want 1 (only the last second)", w)
	}
	if g := r.LatencyHistogram(Handshake); g.Count != 1 || g.Cumulative[0] != 0 || g.Cumulative[1] != 1 {
		t.Errorf("handshake %+v", g)
	}
	if z := r.LatencyHistogram(Kind(NumKinds)); z.Count != 0 || z.Bounds != nil {
		t.Errorf("unknown kind %+v", z)
	}
	// The caller owns the slices.
	h.Bounds[0], h.Cumulative[0] = 99, 99
	if again := r.LatencyHistogram(RequestAck); again.Bounds[0] != 0.0005 || again.Cumulative[0] != 3 {
		t.Errorf("slices shared: %+v", again)
	}
}

// TestLatencyHistogramMonotone reads while writers run: no bucket, Count
// or Sum may ever go down, the buckets stay cumulative, and in the end
// nothing is lost.
func TestLatencyHistogramMonotone(t *testing.T) {
	_, r := newMonitor(t, Config{})
	const writers, each = 4, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r.Observe(ProbeDelivery, time.Duration((i*7919+w)%20_000_000)*time.Microsecond)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	prev := r.LatencyHistogram(ProbeDelivery)
	for reads := 0; ; reads++ {
		select {
		case <-done:
			last := r.LatencyHistogram(ProbeDelivery)
			if last.Count != writers*each {
				t.Fatalf("count %d, want %d", last.Count, writers*each)
			}
			return
		default:
		}
		if reads > 1_000_000 {
			t.Fatal("writers did not finish")
		}
		cur := r.LatencyHistogram(ProbeDelivery)
		if cur.Count < prev.Count || cur.Sum < prev.Sum {
			t.Fatalf("went down: %d/%v after %d/%v", cur.Count, cur.Sum, prev.Count, prev.Sum)
		}
		for i, c := range cur.Cumulative {
			if c < prev.Cumulative[i] || (i > 0 && c < cur.Cumulative[i-1]) || c > cur.Count {
				t.Fatalf("bucket %d: %v after %v (count %d)", i, cur.Cumulative, prev.Cumulative, cur.Count)
			}
		}
		prev = cur
	}
}
