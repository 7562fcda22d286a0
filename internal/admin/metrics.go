package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
)

// Metrics answers GET /api/v1/metrics and is the data of the event
// stream's metrics ticks. Latencies are milliseconds.
type Metrics struct {
	At time.Time `json:"at"`
	// WindowMs is the span of the windowed health values (0 without a
	// health source).
	WindowMs int64 `json:"window_ms"`
	// Weight is the weight the gateway applies now, in percent.
	Weight   float64       `json:"weight"`
	Sessions SessionCounts `json:"sessions"`
	Moves    MoveCounts    `json:"moves"`
	// Backends has "blue" and "green".
	Backends map[string]BackendMetrics `json:"backends"`
	// Rollout is the rollout's status without the verdict history (nil
	// without a controller).
	Rollout *RolloutStatus `json:"rollout,omitempty"`
	// Series is each backend's recent health, oldest first, one point a
	// second: only when asked for (GET /api/v1/metrics?series=true) and
	// the Health given implements HealthSeries.
	Series map[string][]SeriesPoint `json:"series,omitempty"`
}

// HealthSeries is optionally implemented by the Health given in Options:
// the health monitor's short time series, for the dashboard's charts.
type HealthSeries interface {
	// Series returns backend c's points, oldest first: each a
	// BackendHealth with At and the windowed values (sessions, requests,
	// errors, error rate, the gates' latencies) set.
	Series(c router.Color) []BackendHealth
}

// WindowMetrics is a backend's health over the window: what each metrics
// event and each point of the series carry.
type WindowMetrics struct {
	Sessions  int64   `json:"sessions"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	// P50Ms, P95Ms and P99Ms are the latency the gates read.
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// SeriesPoint is one backend's windowed health at one moment, kept for a
// few minutes.
type SeriesPoint struct {
	At time.Time `json:"at"`
	WindowMetrics
}

// BackendMetrics is one backend's health.
type BackendMetrics struct {
	WindowMetrics
	// Latency breaks latency down by kind (handshake, request_ack,
	// subscribe_ack, probe_delivery).
	Latency       map[string]LatencyMetrics `json:"latency,omitempty"`
	TotalRequests int64                     `json:"total_requests"`
	TotalErrors   map[string]int64          `json:"total_errors,omitempty"`
	MemoryBytes   uint64                    `json:"memory_bytes,omitempty"`
}

// LatencyMetrics is one latency kind over the window, in milliseconds.
type LatencyMetrics struct {
	Count int64   `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func windowMetrics(h BackendHealth) WindowMetrics {
	return WindowMetrics{
		Sessions: h.Sessions, Requests: h.Requests, Errors: h.Errors, ErrorRate: h.ErrorRate,
		P50Ms: ms(h.P50), P95Ms: ms(h.P95), P99Ms: ms(h.P99),
	}
}

func backendMetrics(h BackendHealth) BackendMetrics {
	out := BackendMetrics{WindowMetrics: windowMetrics(h), TotalRequests: h.TotalRequests, MemoryBytes: h.MemoryBytes}
	if len(h.Latency) > 0 {
		out.Latency = make(map[string]LatencyMetrics, len(LatencyKinds))
		for _, k := range LatencyKinds {
			if l, ok := h.Latency[k]; ok {
				out.Latency[k] = LatencyMetrics{Count: l.Count, P50Ms: ms(l.P50), P95Ms: ms(l.P95), P99Ms: ms(l.P99), MaxMs: ms(l.Max)}
			}
		}
	}
	if len(h.TotalErrors) > 0 {
		out.TotalErrors = make(map[string]int64, len(ErrorKinds))
		for _, k := range ErrorKinds {
			if n, ok := h.TotalErrors[k]; ok {
				out.TotalErrors[k] = n
			}
		}
	}
	return out
}

// metrics gathers the current Metrics.
func (s *Server) metrics() Metrics {
	now := time.Now()
	st := s.g.Status()
	out := Metrics{
		At: now, Weight: st.Weight.Percent(),
		Sessions: sessionCounts(st.Sessions), Moves: moveCounts(st.Moves),
		Backends: make(map[string]BackendMetrics, 2),
	}
	for _, c := range []router.Color{router.Blue, router.Green} {
		var b BackendMetrics
		if s.opts.Health != nil {
			h := s.opts.Health.BackendHealth(c)
			out.WindowMs = h.Window.Milliseconds()
			b = backendMetrics(h)
		} else if c == router.Blue {
			b.Sessions = int64(st.Sessions.Blue)
		} else {
			b.Sessions = int64(st.Sessions.Green)
		}
		out.Backends[c.String()] = b
	}
	if s.opts.Rollout != nil {
		rs := StatusOf(s.opts.Rollout.Status(), now)
		rs.Verdicts = nil
		out.Rollout = &rs
	}
	return out
}

func sessionCounts(c gateway.SessionCounts) SessionCounts {
	return SessionCounts{Blue: c.Blue, Green: c.Green, Detached: c.Detached, Standby: c.Standby}
}

func moveCounts(m gateway.MoveCounts) MoveCounts {
	return MoveCounts{
		Done: m.Done, Failed: m.Failed, Canceled: m.Canceled, Retried: m.Retried, Drops: m.Drops,
		Reattached: m.Reattached, ReattachFailed: m.ReattachFailed, Stalls: m.Stalls, AttachFailed: m.AttachFailed,
	}
}

func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	m := s.metrics()
	if v := r.URL.Query().Get("series"); v != "" {
		want, err := strconv.ParseBool(v)
		if err != nil {
			ae := apiErr(http.StatusBadRequest, "series: want true or false, got %q", v)
			ae.Field = "series"
			return ae
		}
		if hs, ok := s.opts.Health.(HealthSeries); ok && want {
			m.Series = make(map[string][]SeriesPoint, 2)
			for _, c := range []router.Color{router.Blue, router.Green} {
				pts := []SeriesPoint{} // an empty list, not null, for a backend without points
				for _, h := range hs.Series(c) {
					pts = append(pts, SeriesPoint{At: h.At, WindowMetrics: windowMetrics(h)})
				}
				m.Series[c.String()] = pts
			}
		}
	}
	return writeJSON(w, http.StatusOK, m)
}
