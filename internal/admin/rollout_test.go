package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
)

func TestEveryEndpointNeedsTheToken(t *testing.T) {
	h := newHarness(t, nil)
	for _, ep := range []struct{ method, path string }{
		{"PUT", "/api/v1/weight"}, {"GET", "/api/v1/status"}, {"GET", "/api/v1/sessions/x"},
		{"GET", "/api/v1/rollout"}, {"POST", "/api/v1/rollout/start"}, {"POST", "/api/v1/rollout/pause"},
		{"POST", "/api/v1/rollout/resume"}, {"POST", "/api/v1/rollout/promote"}, {"POST", "/api/v1/rollout/rollback"},
		{"POST", "/api/v1/rollout/emergency-rollback"}, {"POST", "/api/v1/rollout/abort"},
		{"GET", "/api/v1/metrics"}, {"GET", "/api/v1/events"}, {"GET", "/metrics"},
	} {
		for _, auth := range []string{"", "Bearer wrong", "Basic " + testToken, testToken} {
			req, _ := http.NewRequest(ep.method, h.srv.URL+ep.path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body ErrorBody
			err = json.NewDecoder(resp.Body).Decode(&body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || err != nil || body.Error == "" {
				t.Errorf("%s %s with %q: %d %+v %v, want 401 with an error", ep.method, ep.path, auth, resp.StatusCode, body, err)
			}
		}
	}
	if st := h.ro.Status(); st.Phase != rollout.Idle {
		t.Fatalf("an unauthorized request changed the rollout: %s", st.Phase)
	}
}

func decodeStatus(t *testing.T, body string) RolloutStatus {
	t.Helper()
	var st RolloutStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return st
}

func decodeError(t *testing.T, body string) ErrorBody {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("not an error body (%v): %s", err, body)
	}
	return e
}

func TestRolloutCommands(t *testing.T) {
	h := newHarness(t, nil)
	code, body := h.do("GET", "/api/v1/rollout", "")
	if st := decodeStatus(t, body); code != 200 || st.State != "idle" || st.Steps != 0 {
		t.Fatalf("idle status: %d %s", code, body)
	}

	code, body = h.do("POST", "/api/v1/rollout/start", `{"steps":[20,60,100],"hold":"2s","thresholds":{"max_p95":"300ms"}}`)
	st := decodeStatus(t, body)
	if code != 200 || st.State != "preparing" || st.Steps != 3 || st.Plan == nil ||
		st.Plan.Hold.D() != 2*time.Second || st.Plan.Thresholds.MaxP95.D() != 300*time.Millisecond {
		t.Fatalf("start: %d %s", code, body)
	}

	// The fake's driver: step 1 applied with a verdict.
	now := time.Now()
	h.ro.set(rollout.EventVerdict, func(s *rollout.State) {
		s.Phase, s.Step, s.Weight, s.Applied = rollout.Shifting, 1, 2000, true
		s.StartedAt = now.Add(-4 * time.Second)
		s.Steps = []rollout.StepRecord{{Step: 1, Weight: 2000, StartedAt: now.Add(-3 * time.Second), AppliedAt: now.Add(-time.Second), Moved: 20}}
		s.Verdicts = []rollout.Verdict{{Step: 1, Weight: 20, Outcome: rollout.Pass, Green: rollout.Measure{ErrorRate: 0.001, P95: rollout.Duration(12 * time.Millisecond)}}}
	})
	code, body = h.do("GET", "/api/v1/rollout", "")
	st = decodeStatus(t, body)
	if code != 200 || st.State != "shifting" || st.Step != 1 || st.Weight != 20 || len(st.History) != 1 ||
		st.History[0].MovesMs != 2000 || st.History[0].Weight != 20 || st.LastVerdict == nil ||
		st.LastVerdict.Outcome != rollout.Pass || st.LastVerdict.Green.P95.D() != 12*time.Millisecond || st.ElapsedMs < 4000 {
		t.Fatalf("status at step 1: %d %s", code, body)
	}

	for _, c := range []struct {
		cmd, state string
		code       int
	}{
		{"pause", "paused", 200},
		{"pause", "paused", 409}, // already paused
		{"start", "paused", 409}, // a rollout runs
		{"resume", "shifting", 200},
		{"resume", "shifting", 409},
		{"promote", "shifting", 200},
		{"rollback", "rolling_back", 200},
		{"emergency-rollback", "rolling_back", 200},
		{"promote", "rolling_back", 409},
		{"abort", "aborted", 200},
		{"abort", "aborted", 409},
		{"pause", "aborted", 409},
	} {
		code, body := h.do("POST", "/api/v1/rollout/"+c.cmd, "")
		if code != c.code {
			t.Fatalf("%s: %d %s, want %d", c.cmd, code, body, c.code)
		}
		if code == 409 {
			if e := decodeError(t, body); e.State != c.state || !strings.Contains(e.Error, "cannot") {
				t.Fatalf("%s: 409 body %s, want state %s", c.cmd, body, c.state)
			}
			continue
		}
		if st := decodeStatus(t, body); st.State != c.state {
			t.Fatalf("%s: state %s, want %s", c.cmd, st.State, c.state)
		}
	}
	// A finished rollout starts again, here with the configured plan.
	if code, body := h.do("POST", "/api/v1/rollout/start", ""); code != 200 || decodeStatus(t, body).Steps != 5 {
		t.Fatalf("restart: %d %s", code, body)
	}
}

func TestStartBadOverride(t *testing.T) {
	h := newHarness(t, nil)
	for body, field := range map[string]string{
		`{"stepz":[10]}`:                      "stepz",
		`{"steps":"10,20"}`:                   "steps",
		`{"steps":[50,20,100]}`:               "steps[1]",
		`{"hold":"soon"}`:                     "hold",
		`{"hold":"-1s"}`:                      "hold",
		`{"thresholds":{"max_error_rate":2}}`: "thresholds.max_error_rate",
		`{"thresholds":{"max_p95":"fast"}}`:   "thresholds.max_p95",
		`{"moves_per_second":-3}`:             "moves_per_second",
		`{"steps":[10]} {"steps":[20]}`:       "",
		`[1,2]`:                               "",
		`{"steps":[10,100]`:                   "",
		`{"steps":[` + strings.Repeat("1,", 40000) + `100]}`: "",
	} {
		code, resp := h.do("POST", "/api/v1/rollout/start", body)
		e := decodeError(t, resp)
		if code != 400 || e.Field != field {
			t.Errorf("start %.40s: %d %s, want 400 naming %q", body, code, resp, field)
		}
		if field != "" && !strings.Contains(e.Error, field) {
			t.Errorf("start %.40s: message %q does not name %q", body, e.Error, field)
		}
	}
	if st := h.ro.Status(); st.Phase != rollout.Idle {
		t.Fatalf("a bad override started a rollout: %s", st.Phase)
	}
}

// TestStartUnknownNestedFieldNamesPath: an unknown field inside one of the
// override's objects is named by its whole path, as the override spells
// it; "bogus" alone did not say which object to fix.
func TestStartUnknownNestedFieldNamesPath(t *testing.T) {
	h := newHarness(t, nil)
	for body, field := range map[string]string{
		`{"thresholds":{"bogus":1}}`:                                                                "thresholds.bogus",
		`{"non_inferiority":{"confidence":0.9,"margin":0.1}}`:                                       "non_inferiority.margin",
		`{"thresholds":{"max_p95":"1s"},"non_inferiority":{"latency_margin":"1ms","max_p95":"1s"}}`: "non_inferiority.max_p95",
		`{"Thresholds":{"max_p9":"2s"}}`:                                                            "thresholds.max_p9",
	} {
		code, resp := h.do("POST", "/api/v1/rollout/start", body)
		e := decodeError(t, resp)
		if code != 400 || e.Field != field || !strings.Contains(e.Error, field) {
			t.Errorf("start %s: %d %s, want 400 naming %q", body, code, resp, field)
		}
	}
	if st := h.ro.Status(); st.Phase != rollout.Idle {
		t.Fatalf("a bad override started a rollout: %s", st.Phase)
	}
}

func TestWithoutController(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Rollout = nil; o.Health = nil })
	for _, p := range []string{"start", "pause", "abort"} {
		if code, body := h.do("POST", "/api/v1/rollout/"+p, ""); code != 503 {
			t.Errorf("%s without a controller: %d %s", p, code, body)
		}
	}
	if code, _ := h.do("GET", "/api/v1/rollout", ""); code != 503 {
		t.Errorf("GET rollout without a controller: %d", code)
	}
	// Metrics fall back on the gateway's session counts.
	code, body := h.do("GET", "/api/v1/metrics", "")
	var m Metrics
	if err := json.Unmarshal([]byte(body), &m); err != nil || code != 200 || m.Backends["blue"].Sessions != 70 ||
		m.Backends["green"].Sessions != 30 || m.Rollout != nil {
		t.Fatalf("metrics without health: %d %s", code, body)
	}
}

func TestWeightRefusedWhileRolloutRuns(t *testing.T) {
	h := newHarness(t, nil)
	if code, body := h.do("PUT", "/api/v1/weight", `{"weight":10}`); code != 200 {
		t.Fatalf("weight while idle: %d %s", code, body)
	}
	h.do("POST", "/api/v1/rollout/start", "")
	code, body := h.do("PUT", "/api/v1/weight", `{"weight":50}`)
	if e := decodeError(t, body); code != 409 || e.State != "preparing" {
		t.Fatalf("weight during a rollout: %d %s", code, body)
	}
	if w := h.gw.Status().Weight; w != 1000 {
		t.Fatalf("weight changed to %v", w)
	}
}

func TestMetricsJSON(t *testing.T) {
	h := newHarness(t, nil)
	code, body := h.do("GET", "/api/v1/metrics", "")
	var m Metrics
	if err := json.Unmarshal([]byte(body), &m); err != nil || code != 200 {
		t.Fatalf("%d %v %s", code, err, body)
	}
	b, g := m.Backends["blue"], m.Backends["green"]
	if m.WindowMs != 30000 || m.Sessions.Blue != 70 || m.Moves.Done != 30 || m.Rollout == nil || m.Rollout.State != "idle" ||
		b.P95Ms != 20 || g.P95Ms != 35 || g.P99Ms != 60 || g.ErrorRate != 0.01 || b.Latency["request_ack"].MaxMs != 90 ||
		b.TotalErrors["error_replies"] != 7 || b.TotalRequests != 5000 {
		t.Fatalf("metrics: %s", body)
	}
	if _, ok := b.Latency["user-42"]; ok {
		t.Fatal("a latency kind outside LatencyKinds was reported")
	}
	if _, ok := b.TotalErrors["not_a_kind"]; ok {
		t.Fatal("an error kind outside ErrorKinds was reported")
	}
}
