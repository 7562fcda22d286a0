package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/admin/dashboard"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// checkHeaders: every answer, a 404 or a redirect too, carries the
// security headers.
func checkHeaders(t *testing.T, path string, resp *http.Response) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Security-Policy": dashboard.CSP,
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", path, k, got, want)
		}
	}
}

// TestDashboardAssets: each file is served with its content type and the
// security headers; the policy allows nothing inline and no framing.
func TestDashboardAssets(t *testing.T) {
	h := dashboard.New()
	for _, c := range []struct{ path, ctype, contains string }{
		{"/dashboard/", "text/html; charset=utf-8", `<script type="module" src="app.js"></script>`},
		{"/dashboard/index.html", "text/html; charset=utf-8", "<title>Baton</title>"},
		{"/dashboard/style.css", "text/css; charset=utf-8", ":root"},
		{"/dashboard/app.js", "text/javascript; charset=utf-8", "import "},
		{"/dashboard/stream.js", "text/javascript; charset=utf-8", "export function follow"},
		{"/dashboard/favicon.svg", "image/svg+xml", "<svg"},
	} {
		resp := get(t, h, http.MethodGet, c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, want 200", c.path, resp.StatusCode)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if !strings.Contains(string(body), c.contains) {
			t.Errorf("%s: body lacks %q", c.path, c.contains)
		}
		checkHeaders(t, c.path, resp)
	}
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(dashboard.CSP, d) {
			t.Errorf("CSP %q lacks %q", dashboard.CSP, d)
		}
	}
	if strings.Contains(dashboard.CSP, "unsafe") {
		t.Errorf("CSP %q allows something unsafe", dashboard.CSP)
	}
}

// TestDashboardHead: HEAD answers the headers without the body.
func TestDashboardHead(t *testing.T) {
	resp := get(t, dashboard.New(), http.MethodHead, "/dashboard/app.js")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD: %d, %d bytes, %q", resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
	}
}

// TestDashboardRevalidates: an unchanged file costs a 304.
func TestDashboardRevalidates(t *testing.T) {
	h := dashboard.New()
	resp := get(t, h, http.MethodGet, "/dashboard/style.css")
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	req := httptest.NewRequest(http.MethodGet, "/dashboard/style.css", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", rec.Code)
	}
}

// TestDashboardUnknownAsset: a path under the prefix that names no file
// is 404, with the security headers; no directory listing, no path
// traversal.
func TestDashboardUnknownAsset(t *testing.T) {
	h := dashboard.New()
	for _, p := range []string{"/dashboard/nope.js", "/dashboard/static/app.js", "/dashboard/../admin.go", "/dashboard/dashboard.go", "/dashboard/index.html/"} {
		resp := get(t, h, http.MethodGet, p)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
		checkHeaders(t, p, resp)
	}
}

// TestDashboardRedirects: "/" and "/dashboard" lead to the page.
func TestDashboardRedirects(t *testing.T) {
	h := dashboard.New()
	for _, p := range []string{"/", "/dashboard"} {
		resp := get(t, h, http.MethodGet, p)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dashboard.Prefix {
			t.Errorf("%s: %d to %q, want 302 to %s", p, resp.StatusCode, resp.Header.Get("Location"), dashboard.Prefix)
		}
		checkHeaders(t, p, resp)
	}
}

// TestOwns: the dashboard takes GET and HEAD of its own paths only.
func TestOwns(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/", true},
		{"HEAD", "/dashboard/", true},
		{"GET", "/dashboard", true},
		{"GET", "/dashboard/app.js", true},
		{"POST", "/dashboard/", false},
		{"PUT", "/", false},
		{"GET", "/dashboardx", false},
		{"GET", "/api/v1/status", false},
		{"GET", "/metrics", false},
	} {
		if got := dashboard.Owns(httptest.NewRequest(c.method, c.path, nil)); got != c.want {
			t.Errorf("Owns(%s %s) = %v, want %v", c.method, c.path, got, c.want)
		}
	}
}
