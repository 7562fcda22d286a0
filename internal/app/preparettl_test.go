package app

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// TestPrepareTTLFromConfig: handover.prepare_ttl bounds how long the
// connections of POST /api/v1/weight/prepare wait for a weight change
// (docs/config.md). The App built its gateway without it, so they waited
// the built-in 5 minutes whatever the file said.
func TestPrepareTTLFromConfig(t *testing.T) {
	blue, green := testBackends(t)
	cfg := testConfig(blue, green, "")
	cfg.Handover.PrepareTTL = 300 * time.Millisecond
	a := start(t, cfg, Options{})
	cs := clients(t, a.App, 4)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+a.AdminAddr()+"/api/v1/weight/prepare", strings.NewReader(`{"weight":100}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"prepared":4`) {
		t.Fatalf("prepare: %d %s", resp.StatusCode, body)
	}
	testenv.Eventually(t, "the prepared connections to close after handover.prepare_ttl (300ms)", 10*time.Second, func() bool {
		return a.Gateway().Status().Sessions.Standby == 0
	})
	checkDelivery(t, cs)
}
