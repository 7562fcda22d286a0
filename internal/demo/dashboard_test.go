package demo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoDashboardURL: the URL the demo gives for its dashboard serves
// the page, without a token, while the API behind it wants the token.
func TestDemoDashboardURL(t *testing.T) {
	cfg := testConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	get := func(url, token string) (int, string, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	var checked bool
	cfg.Ready = func(ep Endpoints) {
		defer cancel() // enough: the demo ends here
		checked = true
		if want := "http://" + ep.Admin + "/dashboard/"; ep.DashboardURL() != want {
			t.Errorf("DashboardURL %q, want %q", ep.DashboardURL(), want)
		}
		if code, ctype, body := get(ep.DashboardURL(), ""); code != http.StatusOK || ctype != "text/html; charset=utf-8" || !strings.Contains(body, "app.js") {
			t.Errorf("GET %s: %d %q %.200s", ep.DashboardURL(), code, ctype, body)
		}
		if code, _, _ := get("http://"+ep.Admin+"/api/v1/status", ""); code != http.StatusUnauthorized {
			t.Errorf("status without the token: %d, want 401", code)
		}
		if code, _, body := get("http://"+ep.Admin+"/api/v1/status", ep.Token); code != http.StatusOK {
			t.Errorf("status with the demo's token: %d %s", code, body)
		}
	}
	if _, err := Run(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want it canceled", err)
	}
	if !checked {
		t.Error("Ready was not called")
	}
}
