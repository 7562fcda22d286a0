package admin

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrape returns the samples of GET /metrics as "name{labels}" → value.
func scrape(t *testing.T, h *harness) map[string]string {
	t.Helper()
	code, body := h.do("GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	allowed := map[string][]string{
		"backend": {"blue", "green"},
		"kind":    slices.Concat(ErrorKinds, LatencyKinds, edgeEventKinds, messageEventKinds, []string{"done", "failed", "canceled", "legacy", "socketio"}),
		"state":   RolloutStates,
		"le":      leValues(),
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(body), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsable line %q", line)
		}
		for _, lp := range labelPair.FindAllStringSubmatch(m[3], -1) {
			if !slices.Contains(allowed[lp[1]], lp[2]) {
				t.Errorf("%s: label %s=%q outside the fixed sets", m[1], lp[1], lp[2])
			}
		}
		out[m[1]+m[2]] = m[4]
	}
	return out
}

func TestPrometheus(t *testing.T) {
	h := newHarness(t, nil)
	h.do("POST", "/api/v1/rollout/start", `{"steps":[25,100]}`)
	got := scrape(t, h)
	for series, want := range map[string]string{
		`baton_sessions{backend="blue"}`:                                       "70",
		`baton_sessions{backend="green"}`:                                      "30",
		`baton_sessions_detached`:                                              "1",
		`baton_sessions_standby`:                                               "4",
		`baton_moves_total{kind="done"}`:                                       "30",
		`baton_moves_total{kind="failed"}`:                                     "2",
		`baton_moves_retried_total`:                                            "7",
		`baton_rollout_state{state="preparing"}`:                               "1",
		`baton_rollout_state{state="idle"}`:                                    "0",
		`baton_rollout_steps`:                                                  "2",
		`baton_rollout_step`:                                                   "0",
		`baton_backend_error_rate{backend="green"}`:                            "0.01",
		`baton_backend_requests_total{backend="blue"}`:                         "5000",
		`baton_backend_errors_total{backend="blue",kind="error_replies"}`:      "7",
		`baton_backend_errors_total{backend="green",kind="dial_failures"}`:     "0",
		`baton_backend_latency_p95_seconds{backend="blue",kind="request_ack"}`: "0.02",
		`baton_backend_latency_p99_seconds{backend="green",kind="handshake"}`:  "0",
		`baton_health_window_seconds`:                                          "30",
		`baton_edge_connections{kind="socketio"}`:                              "6",
		`baton_edge_events_total{kind="accepted"}`:                             "11",
		`baton_admin_event_streams`:                                            "0",
	} {
		if got[series] != want {
			t.Errorf("%s = %q, want %s", series, got[series], want)
		}
	}
	if n := len(got); n > 120 {
		t.Errorf("%d series; the label sets should bound them well below", n)
	}

	// The injected registry holds the same collector; a second API on it
	// is refused rather than silently exposing one of the two.
	mfs, err := h.reg.Gather()
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "baton_sessions"
	}
	if err != nil || !found {
		t.Fatalf("injected registry: %v, baton_sessions found: %v", err, found)
	}
	if _, err := New(Options{Gateway: h.gw, Token: "x", Registry: h.reg}); err == nil {
		t.Fatal("a second API on the same registry was accepted")
	}
}

// TestPrometheusDelivery: each message counter of the status and each
// backend's up flag is a series of its own, under the status's key.
func TestPrometheusDelivery(t *testing.T) {
	h := newHarness(t, nil)
	got := scrape(t, h)
	for series, want := range map[string]string{
		`baton_message_events_total{kind="duplicates"}`:      "1",
		`baton_message_events_total{kind="gaps"}`:            "2",
		`baton_message_events_total{kind="recovered"}`:       "3",
		`baton_message_events_total{kind="recovery_failed"}`: "4",
		`baton_message_events_total{kind="stale"}`:           "5",
		`baton_message_events_total{kind="unsequenced"}`:     "6",
		`baton_message_events_total{kind="events_overlap"}`:  "7",
		`baton_message_events_total{kind="events_dropped"}`:  "8",
		`baton_message_events_total{kind="rejected"}`:        "9",
		`baton_backend_up{backend="blue"}`:                   "1",
		`baton_backend_up{backend="green"}`:                  "0",
	} {
		if got[series] != want {
			t.Errorf("%s = %q, want %s", series, got[series], want)
		}
	}
	code, body := h.do("GET", "/metrics", "")
	if code != 200 || !strings.Contains(body, "# TYPE baton_message_events_total counter") || !strings.Contains(body, "# TYPE baton_backend_up gauge") {
		t.Errorf("types: %d %s", code, body)
	}
}

func TestPrometheusMinimal(t *testing.T) {
	// Gateway only: a registry of the API's own, no rollout or health series.
	h := newHarness(t, func(o *Options) { o.Rollout, o.Health, o.EdgeStats, o.Registry = nil, nil, nil, nil })
	got := scrape(t, h)
	if got[`baton_sessions{backend="green"}`] != "30" {
		t.Fatalf("sessions missing: %v", got)
	}
	for k := range got {
		if strings.HasPrefix(k, "baton_rollout_") || strings.HasPrefix(k, "baton_backend_error") || strings.HasPrefix(k, "baton_edge_") {
			t.Errorf("series %s without its source", k)
		}
	}
	if prometheus.DefaultGatherer != nil {
		mfs, _ := prometheus.DefaultGatherer.Gather()
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "baton_") {
				t.Fatalf("%s registered on the global registry", mf.GetName())
			}
		}
	}
}
