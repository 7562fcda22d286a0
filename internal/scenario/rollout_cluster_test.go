package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/sleep"
)

// rolloutOptions choose how a rollout cluster runs.
type rolloutOptions struct {
	greenArgs []string // e.g. the fault flags
	// testMode runs the gateway with --test-mode (100 ms holds); off, the
	// holds are the plan's (given per start in the restart case).
	testMode bool
}

// rolloutCluster is a cluster whose gateway has the rollout tuned as the
// demo tunes it (small fleets, short holds) and can be restarted on the
// same configuration and store.
type rolloutCluster struct {
	*cluster
	configPath string
	gwArgs     []string
}

// startRolloutCluster starts blue, green (with o.greenArgs) and the gateway
// with a generated configuration in the test's temp dir.
func startRolloutCluster(t *testing.T, o rolloutOptions) *rolloutCluster {
	t.Helper()
	c := newCluster(t, "ro-", gatewayConfig{})
	c.blue = startBlue(t, c.cfg.Blue, c.redis)
	c.green = startGreen(t, c.cfg.Green, c.redis, o.greenArgs...)

	rc := &rolloutCluster{cluster: c, configPath: writeRolloutConfig(t, c.cfg)}
	rc.gwArgs = []string{"gateway", "--config", rc.configPath}
	if o.testMode {
		rc.gwArgs = append(rc.gwArgs, "--test-mode")
	}
	c.gw = startProc(t, "gateway", "admin listening on", rc.gwArgs...)
	c.edgeAddr, c.adminURL = c.cfg.Edge, "http://"+c.cfg.Admin
	c.http = &http.Client{Timeout: 60 * time.Second}
	t.Cleanup(c.http.CloseIdleConnections)
	c.openBroker()
	return rc
}

// writeRolloutConfig writes the gateway configuration: the scenario's
// addresses and, under rollout, the demo's tuning — health samples that
// the holds of a test can gather (a 10 s window, a probe every 20 ms), 30
// samples per gate, margins a few hundred samples can prove on a busy
// machine — with the production absolute gates (1 % errors, P95 500 ms).
// The bolt store lives in the test's temp dir.
func writeRolloutConfig(t *testing.T, c gatewayConfig) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	writeBaseConfig(&b, c)
	b.WriteString("health:\n  window: 10s\n  probe:\n    interval: 20ms\n")
	b.WriteString("rollout:\n  min_samples: 30\n  max_extensions: 20\n")
	b.WriteString("  non_inferiority:\n    error_rate_margin: 0.03\n    latency_margin: 200ms\n")
	fmt.Fprintf(&b, "  store:\n    kind: bolt\n    path: %s\n", filepath.Join(dir, "baton.db"))
	return writeConfig(t, dir, &b)
}

// restartGateway stops the gateway with SIGTERM (a graceful drain), waits
// for its exit and starts it again on the same configuration and store.
func (rc *rolloutCluster) restartGateway(t *testing.T) {
	t.Helper()
	rc.gw.signal(syscall.SIGTERM)
	select {
	case <-rc.gw.done:
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not exit within 30s of SIGTERM")
	}
	rc.gw = startProc(t, "gateway (restarted)", "admin listening on", rc.gwArgs...)
}

// rollout returns GET /api/v1/rollout.
func (rc *rolloutCluster) rollout() (admin.RolloutStatus, error) {
	var st admin.RolloutStatus
	err := rc.adminJSON("GET", "/api/v1/rollout", "", 200, &st)
	return st, err
}

// cliResult is one run of the baton CLI.
type cliResult struct {
	code int
	out  string
}

// runCLI runs `baton rollout SUB --admin URL --token T args...` to its
// end, bounded by d, and returns its exit code and combined output.
func (rc *rolloutCluster) runCLI(t *testing.T, d time.Duration, sub string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	all := append([]string{"rollout", sub, "--admin", rc.adminURL, "--token", adminToken}, args...)
	cmd := exec.CommandContext(ctx, batonBin, all...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return cliResult{0, string(out)}
	case ctx.Err() != nil:
		t.Fatalf("baton %s: not done within %v: %s", strings.Join(all, " "), d, tail(string(out), 30))
	case errors.As(err, &ee):
		return cliResult{ee.ExitCode(), string(out)}
	default:
		t.Fatalf("baton %s: %v", strings.Join(all, " "), err)
	}
	return cliResult{}
}

// requesters make every Go client publish (a request answered with an ack
// or an error) on a channel of its own every period, so that request→ack
// and error replies feed the health of whichever backend holds the
// session. The channel is not one the streams are checked on.
type requesters struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	ok, errs atomic.Uint64
}

func startRequesters(f *fleets, channel string, period time.Duration) *requesters {
	ctx, cancel := context.WithCancel(context.Background())
	r := &requesters{cancel: cancel}
	for i, c := range f.gf.clients {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			// Spread the clients over the period.
			_ = sleep.For(ctx, period*time.Duration(i)/time.Duration(len(f.gf.clients)))
			for ctx.Err() == nil {
				// Not derived from ctx: canceling a write in progress
				// makes coder/websocket close the client's connection,
				// which stop must not do. stop waits for this request.
				rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.lc.Publish(rctx, channel, []byte(`{"req":true}`))
				rcancel()
				switch {
				case err == nil:
					r.ok.Add(1)
				case ctx.Err() == nil:
					r.errs.Add(1)
				}
				_ = sleep.For(ctx, period)
			}
		}()
	}
	return r
}

// stop ends the requests and returns how many were acked and refused.
func (r *requesters) stop() (ok, errs uint64) {
	r.cancel()
	r.wg.Wait()
	return r.ok.Load(), r.errs.Load()
}
