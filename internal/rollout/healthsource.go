package rollout

import (
	"time"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// MonitorHealth reads a health.Monitor for the gates, through
// SnapshotSamplesSince: the Monitor's own seconds and those it imported
// from other gateways (health.Monitor.Import), so that with several
// gateways the gates judge all of their traffic. Latency comes from
// one kind, so that blue and green are compared on the same operation
// (mixing kinds would weigh them differently on each side); only that
// kind's raw samples are drawn, the other kinds give their histogram
// quantiles (Others).
type MonitorHealth struct {
	monitor *health.Monitor
	kind    health.Kind
	pres    func() Preservation
}

var _ HealthSource = (*MonitorHealth)(nil)

// NewMonitorHealth returns a HealthSource over m comparing latency kind k
// (health.RequestAck for real traffic, health.ProbeDelivery when only the
// probes run). pres supplies the preservation counters; nil reports no
// moves, which passes the preservation checks.
func NewMonitorHealth(m *health.Monitor, k health.Kind, pres func() Preservation) *MonitorHealth {
	return &MonitorHealth{monitor: m, kind: k, pres: pres}
}

// Snapshot is SnapshotSince over the whole health window.
func (h *MonitorHealth) Snapshot(c router.Color) BackendHealth {
	return h.SnapshotSince(c, time.Time{})
}

// SnapshotSince implements HealthSource.
func (h *MonitorHealth) SnapshotSince(c router.Color, since time.Time) BackendHealth {
	s := h.monitor.SnapshotSamplesSince(c, h.kind, since)
	errs, total := s.Counts.Trials()
	var l health.LatencyStats
	if int(h.kind) < health.NumKinds {
		l = s.Latency[h.kind]
	}
	b := BackendHealth{Total: total, Errors: errs, P50: l.P50, P95: l.P95, P99: l.P99, Latencies: l.Count, SamplesMs: l.SamplesMs}
	for _, k := range thresholdKinds {
		if o := s.Latency[k]; k != h.kind && o.Count > 0 {
			b.Others = append(b.Others, KindLatency{Kind: k.String(), Count: o.Count, P95: o.P95, P99: o.P99})
		}
	}
	return b
}

// thresholdKinds are the latencies rollout.thresholds.max_p95 and max_p99
// bound (docs/config.md); the handshake's, several round trips, is not.
var thresholdKinds = [...]health.Kind{health.RequestAck, health.SubscribeAck, health.ProbeDelivery}

// Preservation implements HealthSource.
func (h *MonitorHealth) Preservation() Preservation {
	if h.pres == nil {
		return Preservation{}
	}
	return h.pres()
}
