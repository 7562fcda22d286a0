package loadgen

import (
	"slices"
	"sync/atomic"
)

// recorder keeps latency samples (microseconds) in a slice sized up front, so recording is
// one atomic add and one store with no allocation; samples past the end are
// counted but not kept.
type recorder struct {
	samples []atomic.Int64
	n       atomic.Int64
}

func newRecorder(capacity int) *recorder {
	return &recorder{samples: make([]atomic.Int64, capacity)}
}

func (r *recorder) add(us int64) {
	if i := r.n.Add(1) - 1; i < int64(len(r.samples)) {
		r.samples[i].Store(us)
	}
}

// Latency summarises publish→deliver latencies in microseconds.
type Latency struct {
	Samples int     `json:"samples"`
	P50us   float64 `json:"p50_us"`
	P90us   float64 `json:"p90_us"`
	P99us   float64 `json:"p99_us"`
	P999us  float64 `json:"p999_us"`
	MaxUs   float64 `json:"max_us"`
}

func (r *recorder) summary() Latency {
	n := min(int(r.n.Load()), len(r.samples))
	v := make([]int64, n)
	for i := range v {
		v[i] = r.samples[i].Load()
	}
	return summarize(v)
}

// summarize sorts v and reads nearest-rank percentiles.
func summarize(v []int64) Latency {
	if len(v) == 0 {
		return Latency{}
	}
	slices.Sort(v)
	at := func(q float64) float64 {
		i := int(q*float64(len(v)) + 0.5)
		i = min(max(i-1, 0), len(v)-1)
		return float64(v[i])
	}
	return Latency{
		Samples: len(v),
		P50us:   at(0.50),
		P90us:   at(0.90),
		P99us:   at(0.99),
		P999us:  at(0.999),
		MaxUs:   float64(v[len(v)-1]),
	}
}
