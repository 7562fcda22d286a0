package rollout

import (
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// handClock is a health.Clock moved by hand (a wall time without a
// monotonic reading, like health's own test clock).
type handClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *handClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *handClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// handMonitor is a health.Monitor as the app builds it by default (a
// 60s window), on a handClock set at start.
func handMonitor(t *testing.T) (m *health.Monitor, clk *handClock, start time.Time) {
	t.Helper()
	start = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clk = &handClock{now: start}
	m, err := health.New(health.Config{Window: 60 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return m, clk, start
}

// probeOnlyHealth runs what the default probes give both backends (one
// probe every health.probe.interval, each a Requests and a ProbeDelivery latency 5 ms
// later, never an error, identical latencies on both) for `run`, and
// returns the HealthSource the app builds over it, with the clock left at
// `run` after the start.
func probeOnlyHealth(t *testing.T, run time.Duration) *MonitorHealth {
	t.Helper()
	m, clk, start := handMonitor(t) // defaults: health.window 60s
	const interval = config.DefaultProbeInterval
	for i := 0; time.Duration(i)*interval < run; i++ {
		at := start.Add(time.Duration(i) * interval)
		lat := 5*time.Millisecond + time.Duration(i%7)*time.Millisecond
		for _, c := range []router.Color{router.Blue, router.Green} {
			clk.set(at)
			m.Backend(c).Count(health.Requests)
			clk.set(at.Add(lat))
			m.Backend(c).Observe(health.ProbeDelivery, lat)
		}
	}
	clk.set(start.Add(run))
	return NewMonitorHealth(m, health.ProbeDelivery, nil)
}

// The config accepts rollout.min_samples up to what the probe gives in a
// health window (config.ProbeSamplesPerWindow). The window is the current
// partial second plus the 59 before it, so a gate taken mid-second sees
// 590–599 probes with the defaults: the bound allows only what every gate
// sees, or a healthy green would wait for samples it never gets, and be
// rolled back after its extensions.
func TestMinSamplesAtTheProbeLimitIsReachable(t *testing.T) {
	var cfg config.Config
	cfg.SetDefaults()
	p := defaultPlan(t, &Override{MinSamples: ptr(cfg.ProbeSamplesPerWindow())})
	h := probeOnlyHealth(t, 120*time.Second+500*time.Millisecond)
	g, b := h.Snapshot(router.Green), h.Snapshot(router.Blue)
	v := evaluate(p, gateInput{Step: 1, Weight: 10, Green: g, Blue: b})
	for _, name := range []string{CheckErrorRate, CheckP95} {
		if got := checkOutcome(v, name); got != Pass {
			t.Errorf("%s: %s, want pass (green: %d operations, %d latency samples; the probe made 600 per 60s window); reasons %v",
				name, got, g.Total, len(g.SamplesMs), v.Reasons)
		}
	}
}

// With the default plan and only the default probes (the mode the docs
// offer "so the gates have data even without traffic"), two identical,
// error-free backends pass error_rate_vs_blue. With 0 errors in n
// operations the Newcombe upper limit is green's Wilson upper limit,
// z²/(n+z²), within a margin m only for n ≥ z²(1−m)/m: 765 for the old
// default margin of 0.005, more than the probe gives in a window (and
// extensions re-read the same sliding window), so such a green was always
// rolled back.
func TestProbeOnlyEqualBackendsCanPass(t *testing.T) {
	p := defaultPlan(t, nil)
	h := probeOnlyHealth(t, 120*time.Second+900*time.Millisecond)
	outcomes := []Outcome{}
	for ext := 0; ext <= p.MaxExtensions; ext++ {
		v := evaluate(p, gateInput{Step: 1, Weight: 10, Extension: ext,
			Green: h.Snapshot(router.Green), Blue: h.Snapshot(router.Blue)})
		outcomes = append(outcomes, v.Outcome)
		if v.Outcome == Pass {
			return
		}
		if ext == p.MaxExtensions {
			t.Fatalf("identical error-free backends: outcomes %v over %d extensions, so the step fails; last reasons %v",
				outcomes, p.MaxExtensions, v.Reasons)
		}
	}
}
