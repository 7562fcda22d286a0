package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
)

// adminDo sends an authorized request to the App's admin API.
func adminDo(t *testing.T, a *App, method, path string) (int, string) {
	t.Helper()
	return adminSend(t, a, method, path, "")
}

// adminSend is adminDo with a request body.
func adminSend(t *testing.T, a *App, method, path, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+a.AdminAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// TestAdminWiring: the rollout runs from the admin API, and the health
// the App records shows in /api/v1/metrics and /metrics.
func TestAdminWiring(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{})
	clients(t, a.App, 3)

	if code, body := adminDo(t, a.App, http.MethodPost, "/api/v1/rollout/start"); code != http.StatusOK {
		t.Fatalf("start: %d %s", code, body)
	}
	if st := waitPhase(t, a.Controller(), 60*time.Second, rollout.Completed, rollout.RolledBack); st.Phase != rollout.Completed {
		t.Fatalf("rollout ended %s: %s", st.Phase, st.Reason)
	}
	if code, body := adminDo(t, a.App, http.MethodPost, "/api/v1/rollout/pause"); code != http.StatusConflict {
		t.Errorf("pause after completion: %d %s, want 409", code, body)
	}
	code, body := adminDo(t, a.App, http.MethodGet, "/api/v1/metrics")
	if code != http.StatusOK || !strings.Contains(body, "probe_delivery") {
		t.Errorf("metrics: %d %s", code, body)
	}
	code, body = adminDo(t, a.App, http.MethodGet, "/metrics")
	if code != http.StatusOK || !strings.Contains(body, `backend="green"`) {
		t.Errorf("/metrics: %d %.500s", code, body)
	}
	// The probe ran through the rollout, so its delivery histogram has
	// observations on green.
	if !regexp.MustCompile(`(?m)^baton_backend_latency_seconds_count\{backend="green",kind="probe_delivery"\} [1-9]`).MatchString(body) {
		t.Errorf("/metrics has no green probe_delivery histogram observations:\n%.3000s", body)
	}
}

// The status's edge counters are spelled as docs/api.md and the delivery
// guarantees spell them ("edge.dropped"), like the API's other fields.
func TestStatusEdgeCountersAreSnakeCase(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{})
	clients(t, a.App, 2)
	code, body := adminDo(t, a.App, http.MethodGet, "/api/v1/status")
	if code != http.StatusOK {
		t.Fatalf("status: %d %s", code, body)
	}
	var st struct {
		Edge map[string]json.RawMessage `json:"edge"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"legacy", "socketio", "accepted", "unauthorized", "attach_failed", "slow_consumers", "dropped", "too_large", "error_replies", "origin_rejected"} {
		if _, ok := st.Edge[k]; !ok {
			t.Errorf("status edge has no %q: %s", k, body)
		}
	}
	if string(st.Edge["legacy"]) != "2" {
		t.Errorf("edge.legacy = %s, want the 2 clients", st.Edge["legacy"])
	}
}
