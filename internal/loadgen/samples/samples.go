// Package samples records latency samples from many goroutines without
// allocating, and summarises them as nearest-rank percentiles. The
// benchmark drivers (loadgen, gwbench) record one sample per delivery.
package samples

import (
	"slices"
	"sync/atomic"
)

// Recorder keeps samples in a slice sized up front, so recording is one
// atomic add and one store with no allocation; samples past the end are
// counted but not kept. It is safe for concurrent use.
type Recorder struct {
	samples []atomic.Int64
	n       atomic.Int64
}

// NewRecorder returns a Recorder that keeps up to capacity samples.
func NewRecorder(capacity int) *Recorder {
	return &Recorder{samples: make([]atomic.Int64, capacity)}
}

// Add records one sample.
func (r *Recorder) Add(v int64) {
	if i := r.n.Add(1) - 1; i < int64(len(r.samples)) {
		r.samples[i].Store(v)
	}
}

// Values returns a copy of the samples kept so far, in recording order.
func (r *Recorder) Values() []int64 {
	n := min(int(r.n.Load()), len(r.samples))
	v := make([]int64, n)
	for i := range v {
		v[i] = r.samples[i].Load()
	}
	return v
}

// Summary is the size and nearest-rank percentiles of a set of samples.
type Summary struct {
	N                        int
	P50, P90, P99, P999, Max float64
}

// Summarize sorts v in place and reads its nearest-rank percentiles; an
// empty v gives the zero Summary.
func Summarize(v []int64) Summary {
	if len(v) == 0 {
		return Summary{}
	}
	slices.Sort(v)
	at := func(q float64) float64 {
		i := int(q*float64(len(v)) + 0.5)
		return float64(v[min(max(i-1, 0), len(v)-1)])
	}
	return Summary{N: len(v), P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999), Max: float64(v[len(v)-1])}
}
