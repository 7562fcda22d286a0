package gwbench

import (
	"slices"
	"sync/atomic"
)

// recorder keeps samples (µs) in a slice sized up front: recording is an
// atomic add and a store; samples past the end are counted, not kept.
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

func (r *recorder) values() []int64 {
	n := min(int(r.n.Load()), len(r.samples))
	v := make([]int64, n)
	for i := range v {
		v[i] = r.samples[i].Load()
	}
	return v
}

// Dist summarises samples in microseconds.
type Dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
}

// summarize sorts v and reads nearest-rank percentiles.
func summarize(v []int64) Dist {
	if len(v) == 0 {
		return Dist{}
	}
	slices.Sort(v)
	at := func(q float64) float64 {
		i := int(q*float64(len(v)) + 0.5)
		return float64(v[min(max(i-1, 0), len(v)-1)])
	}
	return Dist{N: len(v), P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999), Max: float64(v[len(v)-1])}
}
