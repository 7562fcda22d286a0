package health

import (
	"sync/atomic"
	"time"
)

// The sliding window forgets, but Prometheus histograms must not: their
// bucket counts, _sum and _count only ever grow, and histogram_quantile()
// and rate() work on their increase between scrapes. So every Recorder also
// keeps, per Kind, a small fixed-bucket histogram of everything observed
// since the Monitor was created. Its buckets are coarse (a few per decade),
// unlike the window's log-linear ones, because each one becomes a series.

// latencyBoundsMicros are the inclusive upper bounds of the cumulative
// buckets in µs: 0.5 ms to 10 s in 1-2.5-5 steps (the steps of
// client_golang's DefBuckets, extended below 5 ms because backend acks on a
// healthy network take well under a millisecond).
var latencyBoundsMicros = [...]uint32{
	500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000,
	250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
}

// numCumBuckets counts the buckets a value can land in: one per bound plus
// one for values above every bound (Prometheus's +Inf).
const numCumBuckets = len(latencyBoundsMicros) + 1

// cumStart maps a window-histogram bucket (see bucketOf) to the first
// cumulative bucket that can hold its values: the first bound at or above
// the bucket's smallest value. It saves Observe a search; cumBucketOf
// finishes with at most one step, since a window bucket is at most 1/16 of
// its lower bound wide and the bounds are at least twice apart.
var cumStart = func() (t [numBuckets]uint8) {
	for i := range t {
		lo, _ := bucketBounds(i)
		j := 0
		for j < len(latencyBoundsMicros) && uint64(latencyBoundsMicros[j]) < lo {
			j++
		}
		t[i] = uint8(j)
	}
	return t
}()

// cumBucketOf returns the cumulative bucket of us, whose window bucket is b.
func cumBucketOf(b int, us uint32) int {
	i := int(cumStart[b])
	for i < len(latencyBoundsMicros) && us > latencyBoundsMicros[i] {
		i++
	}
	return i
}

// cumHist is one Kind's histogram since start. Buckets are per-bucket (not
// cumulative) counts so that Observe touches one of them; the cumulative
// sums are formed when read.
type cumHist struct {
	buckets [numCumBuckets]atomic.Uint64
	sum     atomic.Uint64 // µs
}

func (h *cumHist) observe(b int, us uint32) {
	h.buckets[cumBucketOf(b, us)].Add(1)
	h.sum.Add(uint64(us))
}

// LatencyBuckets returns the upper bounds, in seconds, of the buckets of
// LatencyHistogram: 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
// 0.25, 0.5, 1, 2.5, 5 and 10. The slice is the caller's.
func LatencyBuckets() []float64 {
	out := make([]float64, len(latencyBoundsMicros))
	for i, us := range latencyBoundsMicros {
		out[i] = float64(us) / 1e6
	}
	return out
}

// Histogram is one latency kind since the Monitor was created, in the shape
// of a Prometheus histogram. Every field only grows from one call to the
// next, so it can be exported as-is.
type Histogram struct {
	// Count is the number of observations, Sum their total (each counted
	// in whole microseconds, as Observe keeps them).
	Count uint64
	Sum   time.Duration
	// Bounds are LatencyBuckets(); Cumulative[i] is the number of
	// observations at or below Bounds[i]. Observations above the last
	// bound are in Count only (the +Inf bucket).
	Bounds     []float64
	Cumulative []uint64
}

// LatencyHistogram returns kind k's histogram since the Monitor was
// created; an unknown kind gives the zero Histogram. It reads one counter
// at a time without stopping writers, so an observation in flight may show
// in the buckets and not yet in Sum; Count always equals the +Inf bucket.
// It allocates two short slices: call it per scrape, not per message.
func (r *Recorder) LatencyHistogram(k Kind) Histogram {
	if int(k) >= NumKinds {
		return Histogram{}
	}
	h := &r.cum[k]
	out := Histogram{
		Sum:        time.Duration(h.sum.Load()) * time.Microsecond,
		Bounds:     LatencyBuckets(),
		Cumulative: make([]uint64, len(latencyBoundsMicros)),
	}
	for i := range h.buckets {
		out.Count += h.buckets[i].Load()
		if i < len(out.Cumulative) {
			out.Cumulative[i] = out.Count
		}
	}
	return out
}
