package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
)

// FuzzReadWeight feeds the body of PUT /api/v1/weight and POST
// /api/v1/weight/prepare: a weight is accepted exactly when encoding/json
// reads the body as one object whose "weight" is a number that
// router.FromPercent takes, and then it is that number's weight; anything
// else is a 400 that says why, never a panic or a 500.
func FuzzReadWeight(f *testing.F) {
	for _, s := range []string{
		`{"weight":25}`, `{"weight":12.5}`, `{"weight":0.01}`, `{"weight":100}`, `{"weight":0}`,
		`{"weight":"50"}`, `{"weight":null}`, `{}`, `{"weight":101}`, `{"weight":-0}`, `{"weight":12.345}`,
		`{"weight":1e2}`, `{"weight":1e400}`, `{"weight":25,"x":1}`, `{"weight":25}{}`, `{"weight":25}]`,
		`{"weight":25,"weight":30}`, `{"Weight":25}`, `[25]`, `null`, ``, `{"weight":25} `, `{"weight":[1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPut, "/api/v1/weight", bytes.NewReader(body))
		wt, err := readWeight(httptest.NewRecorder(), r)

		want, wantOK := stdWeight(body)
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Error() == "" {
				t.Fatalf("body %q: error %#v, want a 400 APIError", body, err)
			}
			if wantOK {
				t.Fatalf("body %q refused (%v); encoding/json reads weight %v", body, err, want)
			}
			return
		}
		if !wantOK || wt != want || !wt.Valid() {
			t.Fatalf("body %q read as %v; encoding/json: %v (ok=%v)", body, wt, want, wantOK)
		}
	})
}

// stdWeight reads body as the API documents it, with encoding/json alone:
// one object, no unknown field, a number "weight" that FromPercent takes.
func stdWeight(body []byte) (router.Weight, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var v struct {
		Weight *float64 `json:"weight"`
	}
	if dec.Decode(&v) != nil || v.Weight == nil {
		return 0, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, false // trailing data
	}
	w, err := router.FromPercent(*v.Weight)
	return w, err == nil
}

// oneSession is a gateway that knows one session, id.
type oneSession struct {
	*fakeGateway
	id string
}

func (g oneSession) SessionInfo(id string) (session.Info, bool) {
	if id != g.id {
		return session.Info{}, false
	}
	return session.Info{ID: id, User: "u", Subscriptions: []session.SubscriptionInfo{{Channel: "c", LastSeq: 3, HasLast: true}}}, true
}

// FuzzSessionPath asks GET /api/v1/sessions/{id} for arbitrary ids, escaped
// as a client would: the session whose id it is, byte for byte, is found;
// any other id is a 404 whose JSON error names it (no id: no such
// endpoint); a path the router
// cleans (".", "..") is redirected. Never a panic or a 500.
func FuzzSessionPath(f *testing.F) {
	for _, s := range []string{"s1", "s2", "", ".", "..", "a/b", "%2F", "ü", "\x00", "a b", "?x=1", "#f", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	const known = "s1"
	api, err := New(Options{Gateway: oneSession{&fakeGateway{}, known}, Token: testToken, Health: fakeHealth{}, Registry: prometheus.NewRegistry()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, id string) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/sessions/x", nil)
		r.URL.Path, r.URL.RawPath = "/api/v1/sessions/"+id, "/api/v1/sessions/"+url.PathEscape(id)
		r.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			var got SessionInfo
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || id != known || got.ID != known {
				t.Fatalf("id %q: 200 %s", id, w.Body)
			}
		case http.StatusNotFound:
			if id == known {
				t.Fatalf("known id: 404 %s", w.Body)
			}
			var e ErrorBody
			if json.Unmarshal(w.Body.Bytes(), &e) == nil && e.Error != fmt.Sprintf("no session %q", id) &&
				(id != "" || !strings.HasPrefix(e.Error, "no such endpoint")) {
				t.Fatalf("id %q: 404 %q", id, e.Error)
			}
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect:
		default:
			t.Fatalf("id %q: %d %s", id, w.Code, w.Body)
		}
	})
}
