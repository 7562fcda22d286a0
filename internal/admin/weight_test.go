package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
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

// TestPrepareWeight: POST /api/v1/weight/prepare asks the gateway to
// prepare the weight given, answers its counts, and changes no weight;
// a bad weight is refused as by PUT /api/v1/weight, naming the field,
// with nothing asked of the gateway.
func TestPrepareWeight(t *testing.T) {
	h := newHarness(t, nil)
	code, resp := h.do("POST", "/api/v1/weight/prepare", `{"weight":50}`)
	if code != http.StatusOK {
		t.Fatalf("prepare: %d %s", code, resp)
	}
	var got PrepareResult
	if err := json.Unmarshal([]byte(resp), &got); err != nil {
		t.Fatal(err)
	}
	if got != (PrepareResult{Weight: 50, Prepared: 5, Failed: 1}) {
		t.Errorf("prepare answered %+v", got)
	}
	for _, body := range []string{`{"weight":"50"}`, `{"weight":-1}`, `{}`} {
		code, resp := h.do("POST", "/api/v1/weight/prepare", body)
		if e := decodeError(t, resp); code != http.StatusBadRequest || e.Field != "weight" {
			t.Errorf("prepare %s: %d %s, want 400 naming weight", body, code, resp)
		}
	}
	h.gw.mu.Lock()
	defer h.gw.mu.Unlock()
	if want := []router.Weight{router.Full / 2}; !slices.Equal(h.gw.prepared, want) || h.gw.weight != 0 {
		t.Errorf("gateway asked to prepare %v, weight %v; want %v and weight unchanged", h.gw.prepared, h.gw.weight, want)
	}
}

// TestWeightNotANumberMessage: a weight that is not a JSON number (a
// string, a bool, an object) is refused with a plain message naming the
// field, not Go's "cannot unmarshal string into Go value of type float64".
func TestWeightNotANumberMessage(t *testing.T) {
	h := newHarness(t, nil)
	for _, body := range []string{`{"weight":"25"}`, `{"weight":true}`, `{"weight":[25]}`, `{"weight":{}}`} {
		for _, path := range []string{"PUT /api/v1/weight", "POST /api/v1/weight/prepare"} {
			method, p, _ := strings.Cut(path, " ")
			code, resp := h.do(method, p, body)
			if e := decodeError(t, resp); code != http.StatusBadRequest || e.Field != "weight" ||
				e.Error != "weight: must be a number from 0 to 100" {
				t.Errorf("%s %s: %d %s, want 400 {\"error\":\"weight: must be a number from 0 to 100\",\"field\":\"weight\"}", path, body, code, resp)
			}
		}
	}
}

// TestWeightBodyNotAnObject: a body that is JSON but not an object (a
// bare `25`, as `curl -d 25` sends) is refused saying the body must be an
// object and showing one, not "malformed JSON" with the Go type the
// server decodes into ("admin.weightRequest"); so is a rollout
// command's ("struct {}").
func TestWeightBodyNotAnObject(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []struct{ method, path, body, want string }{
		{"PUT", "/api/v1/weight", `25`, `the body must be a JSON object, like {"weight": 25}; got a number`},
		{"POST", "/api/v1/weight/prepare", `"25"`, `the body must be a JSON object, like {"weight": 25}; got a string`},
		{"PUT", "/api/v1/weight", `[25]`, `the body must be a JSON object, like {"weight": 25}; got an array`},
		{"POST", "/api/v1/rollout/pause", `[]`, `the body must be a JSON object, empty or {}; got an array`},
	} {
		code, resp := h.do(c.method, c.path, c.body)
		if e := decodeError(t, resp); code != http.StatusBadRequest || e.Error != c.want {
			t.Errorf("%s %s %s: %d %s, want 400 %q", c.method, c.path, c.body, code, resp, c.want)
		}
	}
}

// TestWeightEmptyBody: a weight request without a body (`curl -X PUT`
// with no -d) is told the body it needs, not "malformed JSON: EOF".
func TestWeightEmptyBody(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/api/v1/weight", ``},
		{"POST", "/api/v1/weight/prepare", " \n"},
	} {
		const want = `the body must be a JSON object, like {"weight": 25}; got an empty body`
		code, resp := h.do(c.method, c.path, c.body)
		if e := decodeError(t, resp); code != http.StatusBadRequest || e.Error != want {
			t.Errorf("%s %s %q: %d %s, want 400 %q", c.method, c.path, c.body, code, resp, want)
		}
	}
}

// TestWeightOutOfRangeMessage: a weight out of range or too precise is
// refused in the words of a non-number's refusal ("weight: must be …"),
// saying the value given once, not "weight must be 0 to 100 with at most
// two decimals: invalid weight: 101: must be between 0 and 100".
func TestWeightOutOfRangeMessage(t *testing.T) {
	h := newHarness(t, nil)
	for body, want := range map[string]string{
		`{"weight":101}`:    "weight: must be a number from 0 to 100 with at most two decimals, got 101",
		`{"weight":-1}`:     "weight: must be a number from 0 to 100 with at most two decimals, got -1",
		`{"weight":12.345}`: "weight: must be a number from 0 to 100 with at most two decimals, got 12.345",
	} {
		code, resp := h.do("PUT", "/api/v1/weight", body)
		if e := decodeError(t, resp); code != http.StatusBadRequest || e.Field != "weight" || e.Error != want {
			t.Errorf("PUT weight %s: %d %s, want 400 %q", body, code, resp, want)
		}
	}
}

// notApplyingGateway gives up every weight change before applying it, as
// the gateway does when its caller goes away while another change is
// under way.
type notApplyingGateway struct{ *fakeGateway }

func (notApplyingGateway) SetWeight(ctx context.Context, w router.Weight) (int, int, error) {
	return 0, 0, fmt.Errorf("%w (%v%%): %w", gateway.ErrNotApplied, w.Percent(), context.Canceled)
}

// TestWeightNotAppliedSaysSo: a weight change the gateway gave up before
// applying it (its caller went away while another change was under way)
// is answered, and logged, as not applied, not as "applied, moves
// interrupted": the weight in force is the one before.
func TestWeightNotAppliedSaysSo(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Gateway = notApplyingGateway{&fakeGateway{}} })
	code, resp := h.do("PUT", "/api/v1/weight", `{"weight":50}`)
	e := decodeError(t, resp)
	if code != http.StatusServiceUnavailable || !strings.Contains(e.Error, "weight 50 not applied") || strings.Contains(e.Error, "applied, moves") ||
		!strings.Contains(e.Error, "GET /api/v1/status") {
		t.Errorf("PUT weight given up before applying it: %d %s, want 503 saying weight 50 not applied, and where to read the weight in force", code, resp)
	}
}
