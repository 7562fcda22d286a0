package admin

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDashboardNeedsNoTokenButTheAPIDoes: the dashboard's files, which
// hold no data, are served without a token, with the security headers;
// every API path still answers 401 without one, as do the dashboard's
// paths with another method and an unknown path outside the dashboard.
func TestDashboardNeedsNoTokenButTheAPIDoes(t *testing.T) {
	h := newHarness(t, nil)
	client := h.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	send := func(method, path string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, h.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	for path, ctype := range map[string]string{
		"/dashboard/":          "text/html; charset=utf-8",
		"/dashboard/app.js":    "text/javascript; charset=utf-8",
		"/dashboard/api.js":    "text/javascript; charset=utf-8",
		"/dashboard/view.js":   "text/javascript; charset=utf-8",
		"/dashboard/style.css": "text/css; charset=utf-8",
	} {
		resp := send(http.MethodGet, path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ctype {
			t.Errorf("GET %s without a token: %d %q, want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), ctype)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
			resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: security headers missing: %v", path, resp.Header)
		}
	}
	if resp := send(http.MethodGet, "/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/dashboard/" {
		t.Errorf("GET /: %d to %q, want 302 to /dashboard/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := send(http.MethodGet, "/dashboard/secret.json"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown dashboard file: %d, want 404", resp.StatusCode)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/status"},
		{"GET", "/api/v1/rollout"},
		{"GET", "/api/v1/metrics"},
		{"GET", "/api/v1/events"},
		{"GET", "/metrics"},
		{"POST", "/api/v1/rollout/start"},
		{"PUT", "/api/v1/weight"},
		{"POST", "/dashboard/"},
		{"PUT", "/"},
		{"GET", "/nope"},
	} {
		if resp := send(r.method, r.path); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", r.method, r.path, resp.StatusCode)
		}
	}
	if code, body := h.do("GET", "/api/v1/status", ""); code != http.StatusOK {
		t.Errorf("GET /api/v1/status with the token: %d %s", code, body)
	}
}
