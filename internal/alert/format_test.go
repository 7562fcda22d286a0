package alert

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

var at = time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("CET", 3600))

func gateFailed() Event {
	return Event{
		Kind:      KindGateFailed,
		RolloutID: "r-42",
		Step:      2,
		Weight:    25,
		Message:   "green P95 812ms > 500ms",
		Time:      at,
		Details:   map[string]any{"p95_ms": 812, "gate": "latency"},
	}
}

func TestGenericPayload(t *testing.T) {
	rc := newReceiver(t, nil)
	d := newDispatcher(t, fastAlerts(config.WebhookGeneric, rc.srv.URL, -1), Options{})

	ev := gateFailed()
	if err := d.Notify(ev); err != nil {
		t.Fatal(err)
	}
	ev.Details["p95_ms"] = 1 // the caller owns its map again; the alert must not change

	r := rc.next(t)
	eq(t, "Content-Type", r.header.Get("Content-Type"), "application/json")
	m := decode(t, r.body)
	eq(t, "version", m["version"], float64(1))
	eq(t, "kind", m["kind"], "gate_failed")
	eq(t, "rollout_id", m["rollout_id"], "r-42")
	eq(t, "step", m["step"], float64(2))
	eq(t, "weight", m["weight"], float64(25))
	eq(t, "severity", m["severity"], "error") // the kind's default
	eq(t, "message", m["message"], "green P95 812ms > 500ms")
	eq(t, "time", m["time"], "2025-03-04T04:06:07.89Z") // UTC
	eq(t, "source", m["source"], "baton@test")
	eq(t, "details.p95_ms", field(t, m, "details", "p95_ms"), float64(812))
	eq(t, "details.gate", field(t, m, "details", "gate"), "latency")
	if len(m) != 10 {
		t.Errorf("payload has %d fields, want 10: %v", len(m), m)
	}
	waitStats(t, d, func(s Stats) bool { return s.Sent == 1 })
}

func TestGenericDefaultsAndBadDetails(t *testing.T) {
	rc := newReceiver(t, nil)
	d := newDispatcher(t, fastAlerts(config.WebhookGeneric, rc.srv.URL, -1), Options{})

	before := time.Now().UTC().Truncate(time.Second)
	err := d.Notify(Event{Kind: KindCustom, RolloutID: "r-1", Details: map[string]any{"c": make(chan int)}})
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, rc.next(t).body)
	eq(t, "severity", m["severity"], "info")
	ts, err := time.Parse(time.RFC3339Nano, m["time"].(string))
	if err != nil || ts.Before(before) {
		t.Errorf("time = %v (%v), want the time of Notify", m["time"], err)
	}
	if s, _ := field(t, m, "details", "details_error").(string); !strings.Contains(s, "chan") {
		t.Errorf("details_error = %q, want the encoding error", s)
	}
	if err := d.Notify(Event{Kind: KindStarted, RolloutID: "r-1"}); err != nil {
		t.Fatal(err)
	}
	if m := decode(t, rc.next(t).body); m["details"] != nil {
		t.Errorf("details = %v, want omitted", m["details"])
	}
}

func TestSlackPayload(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	d := newDispatcher(t, fastAlerts(config.WebhookSlack, rc.srv.URL, -1), Options{})

	ev := gateFailed()
	ev.Message = "green <!channel> & co"
	if err := d.Notify(ev); err != nil {
		t.Fatal(err)
	}
	m := decode(t, rc.next(t).body)
	eq(t, "text", m["text"], ":x: Gate failed: rollout r-42 — green &lt;!channel&gt; &amp; co")
	blocks := m["blocks"].([]any)
	if len(blocks) != 4 {
		t.Fatalf("%d blocks, want 4: %v", len(blocks), blocks)
	}
	eq(t, "blocks[0].type", field(t, m, "blocks", 0, "type"), "section")
	eq(t, "blocks[0].text.type", field(t, m, "blocks", 0, "text", "type"), "mrkdwn")
	eq(t, "blocks[0].text.text", field(t, m, "blocks", 0, "text", "text"),
		"*:x: Gate failed*\ngreen &lt;!channel&gt; &amp; co")
	eq(t, "blocks[1].type", field(t, m, "blocks", 1, "type"), "section")
	for i, want := range []string{"*Rollout*\nr-42", "*Step*\n2", "*Weight*\n25%", "*Severity*\nerror"} {
		eq(t, "fields type", field(t, m, "blocks", 1, "fields", i, "type"), "mrkdwn")
		eq(t, "fields text", field(t, m, "blocks", 1, "fields", i, "text"), want)
	}
	eq(t, "blocks[2].text.text", field(t, m, "blocks", 2, "text", "text"), "```{\"gate\":\"latency\",\"p95_ms\":812}```")
	eq(t, "blocks[3].type", field(t, m, "blocks", 3, "type"), "context")
	eq(t, "blocks[3].elements[0].text", field(t, m, "blocks", 3, "elements", 0, "text"),
		"gate_failed · 2025-03-04T04:06:07Z · baton@test")
	waitStats(t, d, func(s Stats) bool { return s.Sent == 1 })
}

func TestPagerDutyTriggerThenResolve(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	t.Setenv("BATON_TEST_PD_KEY", "key-from-env")
	cfg := fastAlerts(config.WebhookPagerDuty, rc.srv.URL, -1)
	cfg.Webhooks[0].RoutingKeyEnv = "BATON_TEST_PD_KEY"
	d := newDispatcher(t, cfg, Options{})

	started := Event{Kind: KindStarted, RolloutID: "r-42", Time: at}
	finished := Event{Kind: KindRollbackFinished, RolloutID: "r-42", Weight: 0, Time: at.Add(time.Minute)}
	for _, ev := range []Event{started, gateFailed(), finished} {
		if err := d.Notify(ev); err != nil {
			t.Fatal(err)
		}
	}

	// rollout_started is not an incident: the first request is the trigger.
	m := decode(t, rc.next(t).body)
	eq(t, "routing_key", m["routing_key"], "key-from-env")
	eq(t, "event_action", m["event_action"], "trigger")
	eq(t, "dedup_key", m["dedup_key"], "baton-rollout-r-42")
	eq(t, "client", m["client"], "Baton")
	eq(t, "payload.summary", field(t, m, "payload", "summary"), "Gate failed: rollout r-42: green P95 812ms > 500ms")
	eq(t, "payload.source", field(t, m, "payload", "source"), "baton@test")
	eq(t, "payload.severity", field(t, m, "payload", "severity"), "error")
	eq(t, "payload.timestamp", field(t, m, "payload", "timestamp"), "2025-03-04T04:06:07.890Z")
	eq(t, "payload.component", field(t, m, "payload", "component"), "rollout")
	eq(t, "payload.class", field(t, m, "payload", "class"), "gate_failed")
	cd := []struct {
		path []any
		want any
	}{
		{[]any{"rollout_id"}, "r-42"}, {[]any{"kind"}, "gate_failed"}, {[]any{"step"}, float64(2)},
		{[]any{"weight"}, float64(25)}, {[]any{"message"}, "green P95 812ms > 500ms"},
		{[]any{"details", "p95_ms"}, float64(812)},
	}
	for _, c := range cd {
		eq(t, "custom_details", field(t, m, append([]any{"payload", "custom_details"}, c.path...)...), c.want)
	}

	m = decode(t, rc.next(t).body)
	eq(t, "event_action", m["event_action"], "resolve")
	eq(t, "dedup_key", m["dedup_key"], "baton-rollout-r-42")
	eq(t, "routing_key", m["routing_key"], "key-from-env")
	if _, ok := m["payload"]; ok {
		t.Errorf("resolve carries a payload: %v", m)
	}
	waitStats(t, d, func(s Stats) bool { return s.Sent == 2 })
	rc.none(t, 50*time.Millisecond)
}

func TestPagerDutyAction(t *testing.T) {
	cases := []struct {
		ev   Event
		want string
	}{
		{Event{Kind: KindStarted}, ""},
		{Event{Kind: KindStepPassed}, ""},
		{Event{Kind: KindGateFailed}, pdTrigger},
		{Event{Kind: KindRollbackStarted}, pdTrigger},
		{Event{Kind: KindRollbackFinished}, pdResolve},
		{Event{Kind: KindRollbackFinished, Severity: SeverityCritical}, pdTrigger}, // the rollback itself failed
		{Event{Kind: KindCompleted}, pdResolve},
		{Event{Kind: KindAborted}, pdResolve},
		{Event{Kind: KindCustom, Severity: SeverityWarning}, ""},
		{Event{Kind: KindCustom, Severity: SeverityCritical}, pdTrigger},
	}
	for _, c := range cases {
		ev, err := normalize(c.ev, at)
		if err != nil {
			t.Fatal(err)
		}
		r := newRecord(ev, "s")
		if got := pagerDutyAction(&r); got != c.want {
			t.Errorf("%s/%s: action %q, want %q", ev.Kind, ev.Severity, got, c.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	eq(t, "short", truncate("abc", 3), "abc")
	eq(t, "ascii", truncate("abcdef", 5), "ab…")
	got := truncate("ééééé", 6) // 10 bytes; must not split a rune
	if !utf8ValidAndAtMost(got, 6) {
		t.Errorf("truncate split a rune or overran: %q", got)
	}
	if k := PagerDutyDedupKey(strings.Repeat("x", 400)); len(k) > pdDedupKeyMax {
		t.Errorf("dedup key has %d bytes", len(k))
	}
}

func utf8ValidAndAtMost(s string, n int) bool {
	return len(s) <= n && json.Valid([]byte(`"`+s+`"`)) && strings.ToValidUTF8(s, "?") == s
}

// FuzzFormats feeds arbitrary text through every format: each must give
// valid JSON within the receivers' size limits, and never panic.
func FuzzFormats(f *testing.F) {
	f.Add("r-42", "green P95 812ms > 500ms", 2, 25.0, "gate", "latency")
	f.Add("", "", 0, 0.0, "", "")
	f.Add("<!here>", "a & b <c>", -1, math.Inf(1), "k\x00", "\xff\xfe")
	f.Add(strings.Repeat("é", 700), strings.Repeat("<", 2000), 7, 100.0, "x", strings.Repeat("y", 5000))
	f.Fuzz(func(t *testing.T, id, msg string, step int, weight float64, dk, dv string) {
		for _, kind := range []Kind{KindGateFailed, KindCompleted, KindCustom} {
			ev, err := normalize(Event{Kind: kind, RolloutID: id, Step: step, Weight: weight, Message: msg,
				Details: map[string]any{dk: dv, "w": weight}}, at)
			if err != nil {
				t.Fatal(err)
			}
			r := newRecord(ev, "src")
			for name, format := range map[string]formatter{
				"generic": formatGeneric, "slack": formatSlack, "pagerduty": pagerDutyFormatter("k"),
			} {
				b, skip, err := format(&r)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if skip {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatalf("%s: invalid JSON: %v", name, err)
				}
				switch name {
				case "slack":
					if n := len(m["text"].(string)); n > slackSectionMax {
						t.Fatalf("slack text has %d bytes", n)
					}
					var msg slackMessage
					if err := json.Unmarshal(b, &msg); err != nil {
						t.Fatal(err)
					}
					for _, bl := range msg.Blocks {
						if bl.Text != nil && len(bl.Text.Text) > slackSectionMax {
							t.Fatalf("slack section text has %d bytes", len(bl.Text.Text))
						}
						for _, f := range bl.Fields {
							if len(f.Text) > slackFieldMax {
								t.Fatalf("slack field has %d bytes", len(f.Text))
							}
						}
					}
				case "pagerduty":
					if n := len(m["dedup_key"].(string)); n > pdDedupKeyMax {
						t.Fatalf("dedup_key has %d bytes", n)
					}
					if p, ok := m["payload"].(map[string]any); ok && len(p["summary"].(string)) > pdSummaryMax {
						t.Fatalf("summary has %d bytes", len(p["summary"].(string)))
					}
				}
			}
		}
	})
}

// TestSlackFallbackTextEscaped: the message's text, which Slack shows in
// notifications and parses as mrkdwn, escapes &, < and > as the blocks do,
// so a rollout's message cannot ping a channel or forge a link there.
func TestSlackFallbackTextEscaped(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	d := newDispatcher(t, fastAlerts(config.WebhookSlack, rc.srv.URL, -1), Options{})

	ev := gateFailed()
	ev.RolloutID = "r-<!here>"
	ev.Message = "see <https://evil.example|the dashboard> & <!channel>"
	if err := d.Notify(ev); err != nil {
		t.Fatal(err)
	}
	m := decode(t, rc.next(t).body)
	eq(t, "text", m["text"],
		":x: Gate failed: rollout r-&lt;!here&gt; — see &lt;https://evil.example|the dashboard&gt; &amp; &lt;!channel&gt;")
}

// TestPagerDutyAbortResolves: an operator's abort during the rollback that
// a failed gate started ends the rollout, so it resolves the incident the
// gate opened; nothing else would, since every later rollout has its own
// dedup key.
func TestPagerDutyAbortResolves(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	cfg := fastAlerts(config.WebhookPagerDuty, rc.srv.URL, -1)
	cfg.Webhooks[0].RoutingKey = "k"
	d := newDispatcher(t, cfg, Options{})

	// What the controller sends: the gate fails, the rollback starts, the
	// operator aborts it.
	rollback := Event{Kind: KindRollbackStarted, RolloutID: "r-42", Step: 2, Weight: 25, Time: at}
	aborted := Event{Kind: KindAborted, RolloutID: "r-42", Step: 2, Weight: 25, Time: at.Add(time.Minute),
		Message: "aborted at step 2, weight 25%"}
	for _, ev := range []Event{gateFailed(), rollback, aborted} {
		if err := d.Notify(ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"trigger", "trigger", "resolve"} {
		m := decode(t, rc.next(t).body)
		eq(t, "event_action", m["event_action"], want)
		eq(t, "dedup_key", m["dedup_key"], "baton-rollout-r-42")
	}
}
