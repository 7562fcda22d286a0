package admin

import (
	"net/http"
	"testing"
)

// TestBadWeightNamesTheField: every 400 of PUT /api/v1/weight names the
// field to blame, as docs/api.md promises for a 400 "when there is one"
// and as POST /api/v1/rollout/start does.
func TestBadWeightNamesTheField(t *testing.T) {
	h := newHarness(t, nil)
	for body, field := range map[string]string{
		`{"weight":"25"}`:   "weight",
		`{"weight":101}`:    "weight",
		`{"weight":12.345}`: "weight",
		`{"weight":null}`:   "weight",
		`{}`:                "weight",
		`{"wieght":25}`:     "wieght",
	} {
		code, resp := h.do("PUT", "/api/v1/weight", body)
		if e := decodeError(t, resp); code != http.StatusBadRequest || e.Field != field {
			t.Errorf("PUT weight %s: %d %s, want 400 with field %q", body, code, resp, field)
		}
	}
}
