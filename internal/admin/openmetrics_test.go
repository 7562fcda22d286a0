package admin

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsOpenMetrics: docs/api.md offers OpenMetrics to a scraper
// that asks for it through Accept (Prometheus does by default).
func TestMetricsOpenMetrics(t *testing.T) {
	h := newHarness(t, nil)
	req, err := http.NewRequest("GET", h.srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/openmetrics-text") ||
		!strings.HasSuffix(strings.TrimSpace(string(body)), "# EOF") || !strings.Contains(string(body), "baton_moves_total{") {
		t.Fatalf("GET /metrics asking for OpenMetrics: %d, Content-Type %q, body ends %q", resp.StatusCode, ct, tail(string(body)))
	}
}

func tail(s string) string { return s[max(0, len(s)-80):] }
