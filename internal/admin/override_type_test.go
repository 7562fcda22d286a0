package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/rollout"
)

// TestStartOverrideWrongTypeMessage: a start override's field given a
// value of the wrong JSON type is refused with a plain message naming the
// field and what it takes, with the field in "field", as a weight that is
// not a number is; not Go's "json: cannot unmarshal number into Go value
// of type string" (a duration given as a number had no field at all).
func TestStartOverrideWrongTypeMessage(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []struct{ body, field, takes string }{
		{`{"hold":30}`, "hold", `must be a duration string, like "30s"`},
		{`{"thresholds":{"max_p95":500}}`, "thresholds.max_p95", `must be a duration string, like "30s"`},
		{`{"non_inferiority":{"latency_margin":true}}`, "non_inferiority.latency_margin", `must be a duration string, like "30s"`},
		{`{"steps":"10,20"}`, "steps", "must be a list of percentages, like [10, 25, 50, 100]"},
		{`{"steps":[10,"20"]}`, "steps", "must be a list of percentages, like [10, 25, 50, 100]"},
		{`{"min_sessions":"50"}`, "min_sessions", "must be a whole number"},
		{`{"max_extensions":1.5}`, "max_extensions", "must be a whole number"},
		{`{"prepare_next":"yes"}`, "prepare_next", "must be true or false"},
		{`{"allow_decrease":1}`, "allow_decrease", "must be true or false"},
		{`{"thresholds":{"max_error_rate":"1%"}}`, "thresholds.max_error_rate", "must be a number"},
		{`{"Thresholds":5}`, "thresholds", "must be an object"},
	} {
		code, resp := h.do("POST", "/api/v1/rollout/start", c.body)
		e := decodeError(t, resp)
		if code != http.StatusBadRequest || e.Field != c.field || !strings.HasSuffix(e.Error, c.field+": "+c.takes) ||
			strings.Contains(e.Error, "json:") {
			t.Errorf("start %s: %d %s, want 400 naming %q: %q", c.body, code, resp, c.field, c.takes)
		}
	}
	// Not an object at all: no field to name, and no Go type either.
	for _, body := range []string{`[1,2]`, `"hold"`, `30`} {
		code, resp := h.do("POST", "/api/v1/rollout/start", body)
		if e := decodeError(t, resp); code != http.StatusBadRequest || e.Field != "" || strings.Contains(e.Error, "json:") ||
			!strings.Contains(e.Error, "must be a JSON object") {
			t.Errorf("start %s: %d %s, want 400 saying the override must be a JSON object", body, code, resp)
		}
	}
	if st := h.ro.Status(); st.Phase != rollout.Idle {
		t.Fatalf("a bad override started a rollout: %s", st.Phase)
	}
}
