package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// rollout.thresholds.max_p95 bounds green's 95th-percentile latency of
// request→ack, subscribe→ack and probe publish→deliver (docs/config.md).
// With the probe on (the default) the gates compare blue and green on the
// probe's latency, but a green whose users wait 900ms for their acks, its
// probe as fast as blue's, must still fail max_p95 (500ms), and the
// verdict must say which latency did.
func TestMaxP95CoversRequestAcksWhileTheProbeRuns(t *testing.T) {
	m, clk, start := handMonitor(t)
	for i := range 600 { // 10 a second: a probe and a client request each
		clk.set(start.Add(time.Duration(i) * 100 * time.Millisecond))
		for _, c := range []router.Color{router.Blue, router.Green} {
			r := m.Backend(c)
			r.Add(health.Requests, 2)
			r.Observe(health.ProbeDelivery, 5*time.Millisecond)
			ack := 10 * time.Millisecond
			if c == router.Green {
				ack = 900 * time.Millisecond
			}
			r.Observe(health.RequestAck, ack)
		}
	}
	h := NewMonitorHealth(m, health.ProbeDelivery, nil) // as the app builds it with the probe on
	p := defaultPlan(t, nil)
	v := evaluate(p, gateInput{Step: 1, Weight: 10, Green: h.Snapshot(router.Green), Blue: h.Snapshot(router.Blue)})
	if got := checkOutcome(v, CheckP95); got != Fail {
		t.Fatalf("%s: %s, want fail (green's request acks take 900ms); verdict %s, reasons %v", CheckP95, got, v.Outcome, v.Reasons)
	}
	if v.Outcome != Fail || !strings.Contains(strings.Join(v.Reasons, "; "), "request_ack") {
		t.Errorf("verdict %s, reasons %v: want a fail naming request_ack", v.Outcome, v.Reasons)
	}
}
