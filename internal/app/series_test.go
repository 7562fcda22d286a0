package app

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestMetricsSeriesFromTheMonitor: GET /api/v1/metrics?series=true gives
// the health monitor's points for both backends, with the probes'
// latency (the gates' kind), one per tick.
func TestMetricsSeriesFromTheMonitor(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{})
	var m admin.Metrics
	testenv.Eventually(t, "two points with latency on each backend", 10*time.Second, func() bool {
		code, body := adminDo(t, a.App, http.MethodGet, "/api/v1/metrics?series=true")
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		m = admin.Metrics{}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"blue", "green"} {
			pts := m.Series[c]
			if len(pts) < 2 || pts[len(pts)-1].P95Ms <= 0 || pts[len(pts)-1].Requests == 0 {
				return false
			}
		}
		return true
	})
	pts := m.Series["blue"]
	for i := 1; i < len(pts); i++ {
		if !pts[i].At.After(pts[i-1].At) {
			t.Errorf("points not oldest first: %v then %v", pts[i-1].At, pts[i].At)
		}
	}
}
