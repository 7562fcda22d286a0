package cli

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestWeightTimeoutWhileAnotherChangeRuns: `baton weight set` cut off by
// its --timeout while its change waits for another one still moving
// sessions (to a green that never answers the upgrade). The gateway
// applies none of it, so the message must not say only "the weight
// stays applied": it cannot know which case happened, so it says both,
// and where to read the weight in force, which is the other change's.
func TestWeightTimeoutWhileAnotherChangeRuns(t *testing.T) {
	ctx, adminURL := gatewayWithMuteGreen(t)
	status := func() admin.Status { return adminStatus(ctx, t, adminURL) }

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
