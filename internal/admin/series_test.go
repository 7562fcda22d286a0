package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

// seriesHealth is fakeHealth with a time series: two points on blue,
// none on green.
type seriesHealth struct{ fakeHealth }

func (seriesHealth) Series(c router.Color) []BackendHealth {
	if c != router.Blue {
		return nil
	}
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	const ms = time.Millisecond
	return []BackendHealth{
		{At: at, Sessions: 3, Requests: 100, Errors: 1, ErrorRate: 0.01, P50: 1 * ms, P95: 2 * ms, P99: 3 * ms},
		{At: at.Add(time.Second), Sessions: 3, Requests: 110, ErrorRate: 0, P50: 1500 * time.Microsecond, P95: 2500 * time.Microsecond, P99: 3500 * time.Microsecond},
	}
}

// TestMetricsSeries: GET /api/v1/metrics?series=true adds each backend's
// time series (an empty list for a backend without points); without the
// parameter, or false, there is none; a value that is no boolean is a
// 400 naming the parameter.
func TestMetricsSeries(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Health = seriesHealth{} })
	code, body := h.do("GET", "/api/v1/metrics?series=true", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var m Metrics
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Series["blue"]) != 2 || m.Series["blue"][1].P95Ms != 2.5 || m.Series["blue"][0].ErrorRate != 0.01 {
		t.Errorf("blue series %+v", m.Series["blue"])
	}
	if g, ok := m.Series["green"]; !ok || len(g) != 0 || !strings.Contains(body, `"green":[]`) {
		t.Errorf("green series %v (present %v), want an empty list", g, ok)
	}
	if !strings.Contains(body, `"p95_ms":2.5`) || !strings.Contains(body, `"at":"2026-01-01T12:00:01Z"`) {
		t.Errorf("series JSON: %s", body)
	}
	for _, q := range []string{"", "?series=false", "?series=0"} {
		if code, body := h.do("GET", "/api/v1/metrics"+q, ""); code != http.StatusOK || strings.Contains(body, `"series"`) {
			t.Errorf("GET /api/v1/metrics%s: %d, series in %.300s", q, code, body)
		}
	}
	code, body = h.do("GET", "/api/v1/metrics?series=yes", "")
	if e := decodeError(t, body); code != http.StatusBadRequest || e.Field != "series" {
		t.Errorf("series=yes: %d %s, want 400 with field series", code, body)
	}
}

// TestMetricsSeriesWithoutSource: a Health without a series gives no
// series, asked or not.
func TestMetricsSeriesWithoutSource(t *testing.T) {
	h := newHarness(t, nil)
	if code, body := h.do("GET", "/api/v1/metrics?series=true", ""); code != http.StatusOK || strings.Contains(body, `"series"`) {
		t.Errorf("%d %.300s", code, body)
	}
}
