package loadgen

import "github.com/baton-rt/baton/internal/loadgen/samples"

// Latency summarises publish→deliver latencies in microseconds.
type Latency struct {
	Samples int     `json:"samples"`
	P50us   float64 `json:"p50_us"`
	P90us   float64 `json:"p90_us"`
	P99us   float64 `json:"p99_us"`
	P999us  float64 `json:"p999_us"`
	MaxUs   float64 `json:"max_us"`
}

// summarize sorts v and reads nearest-rank percentiles.
func summarize(v []int64) Latency {
	s := samples.Summarize(v)
	return Latency{Samples: s.N, P50us: s.P50, P90us: s.P90, P99us: s.P99, P999us: s.P999, MaxUs: s.Max}
}
