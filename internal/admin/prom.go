package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
)

// RolloutStates are the values of the state label of baton_rollout_state.
var RolloutStates = []string{
	string(rollout.Idle), string(rollout.Preparing), string(rollout.Shifting), string(rollout.Paused),
	string(rollout.Completed), string(rollout.RollingBack), string(rollout.RolledBack), string(rollout.Aborted),
}

// LatencyHistograms is optionally implemented by the Health given in
// Options; with it, GET /metrics also exposes baton_backend_latency_seconds,
// a Prometheus histogram per backend and latency kind. The quantile gauges
// cover the health window only; a histogram's counts must grow for ever, so
// it needs counts kept since start.
type LatencyHistograms interface {
	// LatencyHistograms returns c's histograms keyed by latency kind (keys
	// from LatencyKinds; others are ignored). Each must come from one
	// fixed set of Bounds, and no count may ever decrease.
	LatencyHistograms(c router.Color) map[string]LatencyHistogram
}

// LatencyHistogram is one latency kind since the process started.
type LatencyHistogram struct {
	// Count is the number of observations (the +Inf bucket), Sum their
	// total.
	Count uint64
	Sum   time.Duration
	// Bounds are the buckets' upper bounds in seconds, ascending;
	// Cumulative[i] counts the observations at or below Bounds[i].
	Bounds     []float64
	Cumulative []uint64
}

// errBadHistogram: a LatencyHistogram whose Bounds and Cumulative differ in
// length; the scrape reports it instead of guessing.
var errBadHistogram = errors.New("admin: latency histogram has len(Bounds) != len(Cumulative)")

// collector reads the gateway, the controller, the health source and the
// edge at scrape time, so nothing runs between scrapes. Labels take values
// from fixed sets only (backend: blue, green; kind: the fixed lists below;
// state: RolloutStates; le: the health source's fixed bucket bounds), so
// the series count is bounded whatever the traffic.
type collector struct {
	s *Server

	sessions, detached, standby, weight *prometheus.Desc
	moves, reattaches                   *prometheus.Desc
	drops, stalls, attachFailures       *prometheus.Desc
	movesRetried                        *prometheus.Desc
	messages, up                        *prometheus.Desc

	state, step, steps, targetWeight *prometheus.Desc

	errorRate, requests, errors  *prometheus.Desc
	p50, p95, p99, window        *prometheus.Desc
	latency                      *prometheus.Desc
	edgeConns, edgeEvents        *prometheus.Desc
	streams, streamDrops, slowSt *prometheus.Desc
}

func newCollector(s *Server) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("baton_"+name, help, labels, nil)
	}
	return &collector{
		s:              s,
		sessions:       d("sessions", "Sessions attached to each backend.", "backend"),
		detached:       d("sessions_detached", "Sessions with no live backend connection."),
		standby:        d("sessions_standby", "Sessions holding an idle connection to the other backend: a rollout's way back, or prepared ahead of a weight change."),
		weight:         d("weight_percent", "Share of users routed to green, in percent."),
		moves:          d("moves_total", "Moves caused by weight changes and by the gateway's retries of the sessions they left misplaced, by outcome (done, failed, canceled).", "kind"),
		reattaches:     d("reattaches_total", "Re-attaches after a backend dropped a session, by outcome (done, failed).", "kind"),
		drops:          d("backend_drops_total", "Backend connections that ended unasked."),
		movesRetried:   d("moves_retried_total", "Moves of the gateway's own retries of misplaced sessions, without a weight change (counted in moves_total too)."),
		stalls:         d("backend_stalls_total", "Backend connections closed for acknowledging a subscribe and then stalling short of the position the ack announced (counted in backend_drops_total too)."),
		attachFailures: d("attach_failures_total", "New sessions refused because no backend could be dialed."),
		messages:       d("message_events_total", "Sessions' delivery events by kind ("+strings.Join(messageEventKinds, ", ")+").", "kind"),
		up:             d("backend_up", "1 when the gateway's latest dial of the backend worked, 0 when it failed or before the first.", "backend"),

		state:        d("rollout_state", "1 for the rollout's current state, 0 for the others.", "state"),
		step:         d("rollout_step", "The rollout's current step, 1-based; 0 before the first."),
		steps:        d("rollout_steps", "The number of steps of the rollout's plan."),
		targetWeight: d("rollout_weight_percent", "The weight the rollout controller applies in its current state, in percent."),

		errorRate: d("backend_error_rate", "Failed operations over operations in the health window (0..1).", "backend"),
		requests:  d("backend_requests_total", "Operations sent to the backend that expect an answer.", "backend"),
		errors:    d("backend_errors_total", "Failed operations and abnormal closes, by kind.", "backend", "kind"),
		p50:       d("backend_latency_p50_seconds", "Median latency over the health window, by kind.", "backend", "kind"),
		p95:       d("backend_latency_p95_seconds", "95th percentile latency over the health window, by kind.", "backend", "kind"),
		p99:       d("backend_latency_p99_seconds", "99th percentile latency over the health window, by kind.", "backend", "kind"),
		window:    d("health_window_seconds", "Span of the windowed health values."),
		latency:   d("backend_latency_seconds", "Latency since start, by kind.", "backend", "kind"),

		edgeConns:  d("edge_connections", "Client connections open at the edge, by protocol (legacy, socketio).", "kind"),
		edgeEvents: d("edge_events_total", "Edge events by kind ("+strings.Join(edgeEventKinds, ", ")+").", "kind"),

		streams:     d("admin_event_streams", "Open GET /api/v1/events streams."),
		streamDrops: d("admin_event_drops_total", "Transitions dropped because an event-stream client was behind."),
		slowSt:      d("admin_event_disconnects_total", "Event-stream clients disconnected because a write failed or timed out."),
	}
}

// edgeEventKinds are the kind values of baton_edge_events_total.
var edgeEventKinds = []string{"accepted", "unauthorized", "attach_failed", "slow_consumers", "dropped", "too_large", "error_replies", "origin_rejected", "asks_not_bridged", "ping_timeouts"}

// messageEventKinds are the kind values of baton_message_events_total: the
// keys of the status's messages, in the order of messageEvents.
var messageEventKinds = []string{"duplicates", "gaps", "recovered", "recovery_failed", "stale", "unsequenced", "events_overlap", "events_dropped", "rejected"}

// messageEvents are m's counters in the order of messageEventKinds.
func messageEvents(m gateway.MessageCounts) [9]uint64 {
	return [...]uint64{m.Duplicates, m.Gaps, m.Recovered, m.RecoveryFailed, m.Stale, m.Unsequenced, m.EventsOverlap, m.EventsDropped, m.Rejected}
}

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.sessions, c.detached, c.standby, c.weight, c.moves, c.reattaches, c.drops, c.stalls, c.attachFailures, c.movesRetried,
		c.messages, c.up,
		c.state, c.step, c.steps, c.targetWeight,
		c.errorRate, c.requests, c.errors, c.p50, c.p95, c.p99, c.window, c.latency,
		c.edgeConns, c.edgeEvents, c.streams, c.streamDrops, c.slowSt,
	} {
		ch <- d
	}
}

// Collect reads every source once.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	s := c.s

	st := s.g.Status()
	gauge(c.sessions, float64(st.Sessions.Blue), "blue")
	gauge(c.sessions, float64(st.Sessions.Green), "green")
	gauge(c.detached, float64(st.Sessions.Detached))
	gauge(c.standby, float64(st.Sessions.Standby))
	gauge(c.weight, st.Weight.Percent())
	counter(c.moves, float64(st.Moves.Done), "done")
	counter(c.moves, float64(st.Moves.Failed), "failed")
	counter(c.moves, float64(st.Moves.Canceled), "canceled")
	counter(c.reattaches, float64(st.Moves.Reattached), "done")
	counter(c.reattaches, float64(st.Moves.ReattachFailed), "failed")
	counter(c.drops, float64(st.Moves.Drops))
	counter(c.stalls, float64(st.Moves.Stalls))
	counter(c.movesRetried, float64(st.Moves.Retried))
	counter(c.attachFailures, float64(st.Moves.AttachFailed))
	for i, v := range messageEvents(st.Messages) {
		counter(c.messages, float64(v), messageEventKinds[i])
	}
	gauge(c.up, upValue(st.Backends.Blue), "blue")
	gauge(c.up, upValue(st.Backends.Green), "green")

	if s.opts.Rollout != nil {
		rs := s.opts.Rollout.Status()
		for _, name := range RolloutStates {
			v := 0.0
			if name == string(rs.Phase) || (rs.Phase == "" && name == string(rollout.Idle)) {
				v = 1
			}
			gauge(c.state, v, name)
		}
		gauge(c.step, float64(rs.Step))
		n := 0
		if rs.Plan != nil {
			n = len(rs.Plan.Steps)
		}
		gauge(c.steps, float64(n))
		gauge(c.targetWeight, rs.Weight.Percent())
	}

	if s.opts.Health != nil {
		for _, col := range []router.Color{router.Blue, router.Green} {
			h := s.opts.Health.BackendHealth(col)
			b := col.String()
			if col == router.Blue { // the same window for both
				gauge(c.window, h.Window.Seconds())
			}
			gauge(c.errorRate, h.ErrorRate, b)
			counter(c.requests, float64(h.TotalRequests), b)
			for _, k := range ErrorKinds {
				counter(c.errors, float64(h.TotalErrors[k]), b, k)
			}
			for _, k := range LatencyKinds {
				l := h.Latency[k]
				gauge(c.p50, l.P50.Seconds(), b, k)
				gauge(c.p95, l.P95.Seconds(), b, k)
				gauge(c.p99, l.P99.Seconds(), b, k)
			}
			if lh, ok := s.opts.Health.(LatencyHistograms); ok {
				c.histograms(ch, lh.LatencyHistograms(col), b)
			}
		}
	}

	if s.opts.EdgeStats != nil {
		e := s.opts.EdgeStats()
		gauge(c.edgeConns, float64(e.Legacy), "legacy")
		gauge(c.edgeConns, float64(e.SocketIO), "socketio")
		for i, v := range []uint64{e.Accepted, e.Unauthorized, e.AttachFailed, e.SlowConsumers, e.Dropped, e.TooLarge, e.ErrorReplies, e.OriginRejected, e.AsksNotBridged, e.PingTimeouts} {
			counter(c.edgeEvents, float64(v), edgeEventKinds[i])
		}
	}

	gauge(c.streams, float64(s.streams.open()))
	counter(c.streamDrops, float64(s.streams.dropped.Load()))
	counter(c.slowSt, float64(s.streams.slow.Load()))
}

// upValue is baton_backend_up's value for b.
func upValue(b gateway.BackendStatus) float64 {
	if b.Up {
		return 1
	}
	return 0
}

// histograms sends backend b's latency histograms, one per known kind
// present in hs.
func (c *collector) histograms(ch chan<- prometheus.Metric, hs map[string]LatencyHistogram, b string) {
	for _, k := range LatencyKinds {
		h, ok := hs[k]
		if !ok {
			continue
		}
		if len(h.Bounds) != len(h.Cumulative) {
			ch <- prometheus.NewInvalidMetric(c.latency, fmt.Errorf("%w (backend %s, kind %s)", errBadHistogram, b, k))
			continue
		}
		buckets := make(map[float64]uint64, len(h.Bounds))
		for i, le := range h.Bounds {
			buckets[le] = h.Cumulative[i]
		}
		m, err := prometheus.NewConstHistogram(c.latency, h.Count, h.Sum.Seconds(), buckets, b, k)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.latency, err)
		}
		ch <- m
	}
}

// initMetrics registers the collector on the injected registry (or on a
// registry of the Server's own).
func (s *Server) initMetrics() error {
	s.reg = s.opts.Registry
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if err := s.reg.Register(newCollector(s)); err != nil {
		return fmt.Errorf("admin: register metrics: %w", err)
	}
	return nil
}

// promHandler serves GET /metrics in the Prometheus exposition formats.
// Like every endpoint it is behind the bearer token (Prometheus sends it
// with `authorization: {credentials: ...}` in the scrape config).
func (s *Server) promHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{s},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		// OpenMetrics when the scraper asks for it (docs/api.md offers it).
		EnableOpenMetrics: true,
	})
}

// promLogger routes promhttp's errors to the server's logger.
type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) { l.s.log.Warn("admin: metrics: " + fmt.Sprint(v...)) }
