package app

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the App's /metrics into families by name.
func scrape(t *testing.T, a *App) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := adminDo(t, a, http.MethodGet, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %.500s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// metricValue is the value of the series of family name whose labels are
// labels (name=value pairs), or fails.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Errorf("/metrics has no %s", name)
		return -1
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	t.Errorf("/metrics has no %s%v", name, labels)
	return -1
}

// gatewayStatus is GET /api/v1/status, as docs/api.md spells it.
type gatewayStatus struct {
	Weight   float64 `json:"weight"`
	Sessions struct {
		Blue, Green, Detached, Standby uint64
	} `json:"sessions"`
	Moves struct {
		Done, Failed, Canceled, Drops, Reattached uint64
		ReattachFailed                            uint64 `json:"reattach_failed"`
		AttachFailed                              uint64 `json:"attach_failed"`
	} `json:"moves"`
	Backends map[string]struct {
		Up bool `json:"up"`
	} `json:"backends"`
	Messages map[string]uint64 `json:"messages"`
	Edge     map[string]uint64 `json:"edge"`
}

func readStatus(t *testing.T, a *App) gatewayStatus {
	t.Helper()
	code, body := adminDo(t, a, http.MethodGet, "/api/v1/status")
	if code != http.StatusOK {
		t.Fatalf("status: %d %s", code, body)
	}
	var st gatewayStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status: %v: %s", err, body)
	}
	return st
}

func putWeight(t *testing.T, a *App, w float64) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+a.AdminAddr()+"/api/v1/weight", strings.NewReader(fmt.Sprintf(`{"weight":%v}`, w)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT weight %v: %d", w, resp.StatusCode)
	}
}

// TestMetricsAgreeWithStatus: after real moves (done and failed), a
// backend's drop and the re-attaches it causes, and that backend's death,
// every gateway counter a Prometheus scrape shows is the one GET
// /api/v1/status shows, under the name and labels docs/api.md gives it:
// the message counters and each backend's up too. The scrape also carries
// the Go runtime and process metrics.
func TestMetricsAgreeWithStatus(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{})
	cs := clients(t, a.App, 12)

	putWeight(t, a.App, 50) // moves done
	green.DropConns()       // re-attaches
	waitStatus(t, a.App, "every session re-attached", func(st gatewayStatus) bool {
		return st.Moves.Reattached > 0 && st.Sessions.Detached == 0 && st.Sessions.Blue+st.Sessions.Green == 12
	})
	green.Kill()
	putWeight(t, a.App, 100) // moves failed: green is gone
	waitStatus(t, a.App, "moves failed and nobody detached", func(st gatewayStatus) bool {
		return st.Moves.Failed > 0 && st.Sessions.Detached == 0 && st.Sessions.Green == 0
	})
	checkDelivery(t, cs)

	st := readStatus(t, a.App)
	fams := scrape(t, a.App)
	if again := readStatus(t, a.App); again.Moves != st.Moves || again.Sessions != st.Sessions ||
		!maps.Equal(again.Messages, st.Messages) || !maps.Equal(again.Backends, st.Backends) {
		t.Fatalf("status changed around the scrape: %+v then %+v", st, again)
	}
	t.Logf("status: %+v", st)
	for _, c := range []struct {
		name   string
		labels []string
		want   uint64
	}{
		{"baton_sessions", []string{"backend", "blue"}, st.Sessions.Blue},
		{"baton_sessions", []string{"backend", "green"}, st.Sessions.Green},
		{"baton_sessions_detached", nil, st.Sessions.Detached},
		{"baton_sessions_standby", nil, st.Sessions.Standby},
		{"baton_weight_percent", nil, uint64(st.Weight)},
		{"baton_moves_total", []string{"kind", "done"}, st.Moves.Done},
		{"baton_moves_total", []string{"kind", "failed"}, st.Moves.Failed},
		{"baton_moves_total", []string{"kind", "canceled"}, st.Moves.Canceled},
		{"baton_reattaches_total", []string{"kind", "done"}, st.Moves.Reattached},
		{"baton_reattaches_total", []string{"kind", "failed"}, st.Moves.ReattachFailed},
		{"baton_backend_drops_total", nil, st.Moves.Drops},
		{"baton_attach_failures_total", nil, st.Moves.AttachFailed},
		{"baton_edge_connections", []string{"kind", "legacy"}, st.Edge["legacy"]},
		{"baton_edge_connections", []string{"kind", "socketio"}, st.Edge["socketio"]},
	} {
		if got := metricValue(t, fams, c.name, c.labels...); got != float64(c.want) {
			t.Errorf("%s%v = %v, status says %d", c.name, c.labels, got, c.want)
		}
	}
	for k, v := range st.Edge {
		if k == "legacy" || k == "socketio" {
			continue
		}
		if got := metricValue(t, fams, "baton_edge_events_total", "kind", k); got != float64(v) {
			t.Errorf("baton_edge_events_total{kind=%q} = %v, status edge.%s = %d", k, got, k, v)
		}
	}
	if len(st.Messages) == 0 {
		t.Errorf("status has no messages: %+v", st)
	}
	for k, v := range st.Messages {
		if got := metricValue(t, fams, "baton_message_events_total", "kind", k); got != float64(v) {
			t.Errorf("baton_message_events_total{kind=%q} = %v, status messages.%s = %d", k, got, k, v)
		}
	}
	for _, b := range []string{"blue", "green"} {
		want := 0.0
		if st.Backends[b].Up {
			want = 1
		}
		if got := metricValue(t, fams, "baton_backend_up", "backend", b); got != want {
			t.Errorf("baton_backend_up{backend=%q} = %v, status backends.%s.up = %v", b, got, b, st.Backends[b].Up)
		}
	}
	if !st.Backends["blue"].Up || st.Backends["green"].Up {
		t.Errorf("want blue up and green down (killed): %+v", st.Backends)
	}
	if got := metricValue(t, fams, "go_goroutines"); got <= 0 {
		t.Errorf("go_goroutines = %v", got)
	}
	if got := metricValue(t, fams, "process_start_time_seconds"); got <= 0 {
		t.Errorf("process_start_time_seconds = %v", got)
	}
	if st.Moves.Done == 0 || st.Moves.Failed == 0 || st.Moves.Reattached == 0 || st.Moves.Drops == 0 {
		t.Errorf("the test made no moves, failures, drops or re-attaches: %+v", st.Moves)
	}
}

func waitStatus(t *testing.T, a *App, what string, ok func(gatewayStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := readStatus(t, a)
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want %s", st, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
