package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestWeightTimeoutWhileAnotherChangeRuns: `baton weight set` cut off by
// its --timeout while its change waits for another one still moving
// sessions (to a green that never answers the upgrade). The gateway
// applies none of it, so the message must not say only "the weight
// stays applied": it cannot know which case happened, so it says both,
// and where to read the weight in force, which is the other change's.
func TestWeightTimeoutWhileAnotherChangeRuns(t *testing.T) {
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	blue := backendtest.Legacy(t, b)
	green := muteBackend(t)
	edge, adminURL := runGateway(t, fmt.Sprintf(`listen: 127.0.0.1:0
admin: {listen: %q, token: %s}
backends:
  blue: {url: %q, protocol: legacy}
  green: {url: %q, protocol: legacy, dial_timeout: 1m}
handover: {timeout: 1m}
health: {probe: {disabled: true}}
rollout: {store: {kind: memory}}
log: {level: error}
`, testenv.FreeAddr(t), cliToken, blue.URL, green))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := legacyclient.Dial(ctx, "ws://"+edge+"/ws?user=alice", legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Subscribe(ctx, "news", nil); err != nil {
		t.Fatal(err)
	}
	status := func() admin.Status {
		var st admin.Status
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/api/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+cliToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}

	// The first change moves alice to green, which never answers: it
	// holds the gateway's weight changes until its caller goes.
	firstCtx, cancelFirst := context.WithCancel(ctx)
	first := make(chan struct{})
	go func() {
		defer close(first)
		req, _ := http.NewRequestWithContext(firstCtx, http.MethodPut, adminURL+"/api/v1/weight", strings.NewReader(`{"weight":100}`))
		req.Header.Set("Authorization", "Bearer "+cliToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
		}
	}()
	defer func() {
		cancelFirst()
		<-first
	}()
	testenv.Eventually(t, "the first change to apply its weight", 10*time.Second, func() bool {
		return status().Weight == 100
	})

	var stdout, stderr bytes.Buffer
	args := []string{"weight", "set", "50", "--timeout", "300ms", "--admin", adminURL, "--token", cliToken}
	code := execute(ctx, args, &stdout, &stderr)
	msg := stderr.String()
	for _, w := range []string{
		"no answer from the admin API within --timeout 300ms",
		"the weight stays applied",
		"waiting for another weight change, the weight is not applied at all",
		"GET /api/v1/status shows the weight in force",
	} {
		if code != 1 || !strings.Contains(msg, w) {
			t.Errorf("%v while another change runs: exit %d, stderr %q; want exit 1 and %q", args, code, msg, w)
		}
	}
	if st := status(); st.Weight != 100 || st.Sessions.Blue != 1 {
		t.Errorf("status after the cut-off weight set: %+v, want the first change's weight 100 and the session still on blue", st)
	}
}
