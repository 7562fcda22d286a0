package health

import (
	"testing"
	"time"
)

func BenchmarkCount(b *testing.B) {
	_, r := newMonitor(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		r.Count(Requests)
	}
}

func BenchmarkObserve(b *testing.B) {
	_, r := newMonitor(b, Config{})
	b.ReportAllocs()
	var i time.Duration
	for b.Loop() {
		i++
		r.Observe(RequestAck, i%50_000*time.Microsecond)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	_, r := newMonitor(b, Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var i time.Duration
		for pb.Next() {
			i++
			r.Observe(RequestAck, i%50_000*time.Microsecond)
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	_, r := newMonitor(b, Config{})
	for i := range 100_000 {
		r.Observe(RequestAck, time.Duration(i)*time.Microsecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Snapshot()
	}
}

// BenchmarkLatencyHistogram is the per-scrape cost of one kind's
// cumulative histogram.
func BenchmarkLatencyHistogram(b *testing.B) {
	_, r := newMonitor(b, Config{})
	for i := range 100_000 {
		r.Observe(RequestAck, time.Duration(i)*time.Microsecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.LatencyHistogram(RequestAck)
	}
}
