package app

import (
	"context"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
)

// shifter is the gateway as the controller and the admin API drive it:
// SetWeight goes through SetWeightPaced at the configured pace, so that
// its moves count in the preservation gates.
type shifter struct{ *gateway.Gateway }

var (
	_ rollout.Shifter         = shifter{}
	_ rollout.PacedShifter    = shifter{}
	_ rollout.MoveCounter     = shifter{}
	_ admin.Gateway           = shifter{}
	_ admin.Health            = adminHealth{}
	_ admin.LatencyHistograms = adminHealth{}
	_ admin.HealthSeries      = adminHealth{}
)

// The controller's emergency pace must mean "unpaced" to the gateway.
var _ = [1]struct{}{}[rollout.Unpaced-gateway.Unpaced]

func (s shifter) SetWeight(ctx context.Context, w router.Weight) (moved, failed int, err error) {
	return s.SetWeightPaced(ctx, w, 0)
}

// adminHealth reads the health monitor for the admin API.
type adminHealth struct{ a *App }

func (h adminHealth) BackendHealth(c router.Color) admin.BackendHealth {
	s := h.a.monitor.Summary(c)
	gate := s.Latency[h.a.gateKind()]
	out := admin.BackendHealth{
		At: s.At, Window: s.Window, Sessions: s.Sessions,
		Requests: s.Counts.Requests, Errors: s.Counts.Errors(), ErrorRate: s.ErrorRate,
		P50: gate.P50, P95: gate.P95, P99: gate.P99,
		Latency:       make(map[string]admin.Latency, health.NumKinds),
		TotalRequests: s.Totals.Requests,
		TotalErrors:   make(map[string]int64, health.NumCounters-1),
		MemoryBytes:   s.MemoryBytes,
	}
	for k, l := range s.Latency {
		out.Latency[health.Kind(k).String()] = admin.Latency{Count: l.Count, P50: l.P50, P95: l.P95, P99: l.P99, Max: l.Max}
	}
	for c := health.Counter(0); int(c) < health.NumCounters; c++ {
		if c != health.Requests {
			out.TotalErrors[c.String()] = s.Totals.Get(c)
		}
	}
	return out
}

// Series gives the monitor's time series (one point per health tick) with
// the gates' latency kind.
func (h adminHealth) Series(c router.Color) []admin.BackendHealth {
	k := h.a.gateKind()
	pts := h.a.monitor.Series(c)
	out := make([]admin.BackendHealth, len(pts))
	for i, p := range pts {
		out[i] = admin.BackendHealth{
			At: p.At, Sessions: p.Sessions, Requests: p.Requests, Errors: p.Errors, ErrorRate: p.ErrorRate,
			P50: p.P50[k], P95: p.P95[k], P99: p.P99[k],
		}
	}
	return out
}

// LatencyHistograms exports the monitor's cumulative latency histograms
// to Prometheus.
func (h adminHealth) LatencyHistograms(c router.Color) map[string]admin.LatencyHistogram {
	r := h.a.monitor.Backend(c)
	out := make(map[string]admin.LatencyHistogram, health.NumKinds)
	for k := range health.NumKinds {
		lh := r.LatencyHistogram(health.Kind(k))
		out[health.Kind(k).String()] = admin.LatencyHistogram{Count: lh.Count, Sum: lh.Sum, Bounds: lh.Bounds, Cumulative: lh.Cumulative}
	}
	return out
}
