package rollout

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// A green whose every request ack takes a little more than max_p95 (the
// default 500ms) fails the P95 check, whether request→ack is the latency
// the gates compare (probe off) or one of the others (probe on). Its P95
// was read as the midpoint of the histogram bucket holding it, 499.7ms
// for values in [491.5ms, 507.9ms): below every observation, and below
// the limit, so the gate passed.
func TestMaxP95FailsWhenEveryAckIsOverIt(t *testing.T) {
	for _, main := range []health.Kind{health.RequestAck, health.ProbeDelivery} {
		t.Run(main.String(), func(t *testing.T) {
			m, clk, start := handMonitor(t)
			for i := range 600 { // 10 a second: a probe and a client request each
				clk.set(start.Add(time.Duration(i) * 100 * time.Millisecond))
				for _, c := range []router.Color{router.Blue, router.Green} {
					r := m.Backend(c)
					r.Add(health.Requests, 2)
					r.Observe(health.ProbeDelivery, 5*time.Millisecond)
					ack := 10 * time.Millisecond
					if c == router.Green {
						ack = 501*time.Millisecond + time.Duration(i%7)*time.Millisecond // 501–507ms
					}
					r.Observe(health.RequestAck, ack)
				}
			}
			h := NewMonitorHealth(m, main, nil)
			p := defaultPlan(t, nil)
			v := evaluate(p, gateInput{Step: 1, Weight: 10, Green: h.Snapshot(router.Green), Blue: h.Snapshot(router.Blue),
				GreenSessions: 100, BlueSessions: 900})
			if got := checkOutcome(v, CheckP95); got != Fail {
				t.Errorf("%s: %s with every green ack in 501–507ms, max_p95 %v; checks %+v",
					CheckP95, got, p.Thresholds.MaxP95, v.Checks)
			}
		})
	}
}
