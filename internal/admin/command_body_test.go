package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/rollout"
)

// TestCommandBodyReadStrictly: the rollout commands other than start take
// no body, and a body they cannot read is a 400 that changes nothing, as
// docs/api.md says of every request body (unknown fields, malformed JSON,
// over 64 KiB). Before, any body was ignored and the command carried out:
// an operator posting {"emergency":true} to rollback got a plain, slow
// rollback with a 200.
func TestCommandBodyReadStrictly(t *testing.T) {
	h := newHarness(t, nil)
	if code, body := h.do("POST", "/api/v1/rollout/start", ""); code != http.StatusOK {
		t.Fatalf("start: %d %s", code, body)
	}
	for _, c := range []struct{ cmd, body, field string }{
		{"rollback", `{"emergency":true}`, "emergency"},
		{"pause", `garbage`, ""},
		{"abort", `{"weight":0}`, "weight"},
		{"pause", `{}` + strings.Repeat(" ", maxBody), ""},
	} {
		code, body := h.do("POST", "/api/v1/rollout/"+c.cmd, c.body)
		if code != http.StatusBadRequest {
			t.Errorf("%s with body %.30q: %d %s, want 400", c.cmd, c.body, code, body)
			continue
		}
		if e := decodeError(t, body); e.Field != c.field {
			t.Errorf("%s with body %.30q: field %q, want %q", c.cmd, c.body, e.Field, c.field)
		}
	}
	if st := h.ro.Status(); st.Phase != rollout.Preparing {
		t.Fatalf("refused commands changed the rollout: %s", st.Phase)
	}
	// No body, an empty object or null: the command runs.
	for _, c := range []struct{ cmd, body string }{{"pause", ""}, {"resume", "{}"}, {"abort", "null"}} {
		if code, body := h.do("POST", "/api/v1/rollout/"+c.cmd, c.body); code != http.StatusOK {
			t.Errorf("%s with body %q: %d %s, want 200", c.cmd, c.body, code, body)
		}
	}
}
