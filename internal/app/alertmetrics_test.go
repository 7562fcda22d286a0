package app

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

// A receiver that refuses alerts shows in /metrics, not only in the logs:
// baton_alerts_total counts each receiver's deliveries by result.
func TestAlertResultsInMetrics(t *testing.T) {
	accepted := make(chan struct{}, 16)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		accepted <- struct{}{}
	}))
	defer ok.Close()
	refused := make(chan struct{}, 16)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest) // not retried
		refused <- struct{}{}
	}))
	defer bad.Close()

	blue, green := testBackends(t)
	cfg := testConfig(blue, green, "")
	cfg.Rollout.Alerts.Webhooks = []config.Webhook{{Kind: config.WebhookGeneric, URL: ok.URL}, {Kind: config.WebhookGeneric, URL: bad.URL}}
	a := start(t, cfg, Options{})

	if code, body := adminDo(t, a.App, http.MethodPost, "/api/v1/rollout/start"); code != http.StatusOK {
		t.Fatalf("start: %d %s", code, body)
	}
	for _, ch := range []chan struct{}{accepted, refused} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("the rollout's start reached no receiver within 10s")
		}
	}
	// Each receiver took the start; count from /metrics until both results
	// show (the counters move just after the receiver answers).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := adminDo(t, a.App, http.MethodGet, "/metrics")
		sent, failed := alertCount(body, "sent"), alertCount(body, "failed")
		if sent >= 1 && failed >= 1 {
			if dropped := alertCount(body, "dropped"); dropped != 0 {
				t.Errorf("dropped %v alerts, want none", dropped)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("baton_alerts_total sent %v, failed %v after both receivers answered; want at least 1 each", sent, failed)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alertCount reads baton_alerts_total{result} from a scrape; -1 when absent.
func alertCount(body, result string) float64 {
	m := regexp.MustCompile(`(?m)^baton_alerts_total\{result="` + result + `"\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	return n
}
