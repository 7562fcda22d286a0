package app

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
)

// benchClock is a health.Clock moved by hand.
type benchClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *benchClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *benchClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// fullMonitor returns the monitor the app builds for the default
// health.window (60s), every second of it holding more latencies of every
// kind, on both backends, than the per-second reservoir keeps: a busy
// window.
func fullMonitor(b testing.TB) *health.Monitor {
	b.Helper()
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &benchClock{now: start}
	m, err := health.New(health.Config{Window: 60 * time.Second, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	const perSecond = health.DefaultReservoir + 500
	for sec := range 60 {
		clk.set(start.Add(time.Duration(sec) * time.Second))
		for _, c := range []router.Color{router.Blue, router.Green} {
			r := m.Backend(c)
			r.Add(health.Requests, perSecond)
			for k := range health.NumKinds {
				for i := range perSecond {
					r.Observe(health.Kind(k), time.Duration(1000+i)*time.Microsecond)
				}
			}
		}
	}
	if n := m.Snapshot(router.Green).Latency[health.Handshake].Count; n != 60*perSecond {
		b.Fatalf("window holds %d handshakes, want %d", n, 60*perSecond)
	}
	return m
}

// BenchmarkHealthSnapshots is what reading a full window costs each caller:
// scrape is one admin /metrics, /health or /api/v1/metrics read of both
// backends (adminHealth.BackendHealth), gate one gate evaluation's read of
// both (the rollout controller's HealthSource).
func BenchmarkHealthSnapshots(b *testing.B) {
	a := &App{monitor: fullMonitor(b)}
	colors := []router.Color{router.Blue, router.Green}
	b.Run("scrape", func(b *testing.B) {
		h := adminHealth{a}
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range colors {
				_ = h.BackendHealth(c)
			}
		}
	})
	b.Run("gate", func(b *testing.B) {
		h := rollout.NewMonitorHealth(a.monitor, a.gateKind(), nil)
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range colors {
				_ = h.Snapshot(c)
			}
		}
	})
}

// allocated returns the bytes f allocates per call, over n calls.
func allocated(n int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

// Reading the health of a busy window for the admin API (/metrics,
// /health, /api/v1/metrics) must not copy the latency reservoirs, which it
// never reads: one kind's are 480 KB per backend here (60 s of 2000 4-byte
// values), and copying all four kinds of both backends made every scrape
// allocate 4 MB. The gates read the samples of the one kind they compare
// (2000 per backend), and must copy no other kind's, nor the whole
// window's reservoirs of theirs.
func TestHealthReadsCopyOnlyTheSamplesTheyUse(t *testing.T) {
	a := &App{monitor: fullMonitor(t)}
	const oneKind = 60 * health.DefaultReservoir * 4 // bytes of one kind's reservoirs, one backend
	colors := []router.Color{router.Blue, router.Green}
	scrape := allocated(10, func() {
		for _, c := range colors {
			_ = adminHealth{a}.BackendHealth(c)
		}
	})
	if scrape > 64<<10 {
		t.Errorf("a scrape of both backends allocates %d bytes, want at most 64 KB (no samples)", scrape)
	}
	gh := rollout.NewMonitorHealth(a.monitor, a.gateKind(), nil)
	gate := allocated(10, func() {
		for _, c := range colors {
			_ = gh.Snapshot(c)
		}
	})
	if gate > 128<<10 {
		t.Errorf("a gate read of both backends allocates %d bytes, want at most 128 KB (one kind's samples, not its %d bytes of reservoirs per backend)", gate, oneKind)
	}
}
