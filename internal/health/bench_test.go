package health

import (
	"runtime"
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

// BenchmarkNew's B/op is the memory of a Monitor's two windows, which New
// allocates whole: recording allocates nothing more (BenchmarkObserve), and
// once every second of the window has had latencies all of it is resident.
// B/backend-s is that per backend and per second of Window.
func BenchmarkNew(b *testing.B) {
	for _, w := range []time.Duration{DefaultWindow, time.Minute, MaxWindow} {
		b.Run(w.String(), func(b *testing.B) {
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if _, err := New(Config{Window: w}); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			perBackendSecond := float64(after.TotalAlloc-before.TotalAlloc) / float64(b.N) / 2 / w.Seconds()
			b.ReportMetric(perBackendSecond, "B/backend-s")
		})
	}
}
