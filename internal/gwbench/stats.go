package gwbench

import "github.com/baton-rt/baton/internal/loadgen/samples"

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
	s := samples.Summarize(v)
	return Dist{N: s.N, P50: s.P50, P90: s.P90, P99: s.P99, P999: s.P999, Max: s.Max}
}
