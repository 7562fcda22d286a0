package rollout

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// With the probe off the gates read client requests, and the config sets
// no bound on rollout.min_samples (config.ProbeSamplesPerWindow is 0). The
// window's raw samples are a reservoir of at most health.DefaultReservoir
// (2000) values, but the window holds every observation: with 3000
// requests a window on each backend and min_samples 2500 (the docs:
// "operations and latency samples each backend needs in the window"), two
// identical, healthy backends pass, rather than waiting for samples the
// reservoir never returns and being rolled back after their extensions.
func TestMinSamplesAboveTheReservoirIsReachable(t *testing.T) {
	m, clk, start := handMonitor(t)
	const perSecond = 50
	for i := range 60 * perSecond {
		at := start.Add(time.Duration(i) * time.Second / perSecond)
		lat := 5*time.Millisecond + time.Duration(i%7)*time.Millisecond
		clk.set(at)
		for _, c := range []router.Color{router.Blue, router.Green} {
			m.Backend(c).Count(health.Requests)
			m.Backend(c).Observe(health.RequestAck, lat)
		}
	}
	h := NewMonitorHealth(m, health.RequestAck, nil)
	p := defaultPlan(t, &Override{MinSamples: ptr(2500)})
	g, b := h.Snapshot(router.Green), h.Snapshot(router.Blue)
	v := evaluate(p, gateInput{Step: 1, Weight: 10, Green: g, Blue: b})
	for _, name := range []string{CheckErrorRate, CheckP95, CheckLatencyVsBlue} {
		if got := checkOutcome(v, name); got != Pass {
			t.Errorf("%s: %s, want pass (green: %d operations, %d latency samples returned); reasons %v",
				name, got, g.Total, len(g.SamplesMs), v.Reasons)
		}
	}
}
