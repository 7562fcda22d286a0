package cli

import (
	"context"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
)

// The help of `rollout start` promises "0: the configured value" for
// --hold, --min-sessions, --min-samples, --max-extensions, --max-error-rate,
// --max-p95 and --max-p99 (docs/api.md says the same of the override):
// passing 0 explicitly leaves the gateway's configured plan as it is.
func TestRolloutStartZeroFlagsKeepTheConfiguredPlan(t *testing.T) {
	srv, ro, _ := adminServer(t)
	conn := []string{"--admin", srv.URL, "--token", cliToken}
	args := append([]string{"rollout", "start",
		"--hold", "0", "--min-sessions", "0", "--max-extensions", "0",
		"--max-error-rate", "0", "--max-p95", "0", "--max-p99", "0"}, conn...)
	if out, err := baton(context.Background(), args...); err != nil {
		t.Fatalf("start: %v %q", err, out)
	}
	configured := config.Rollout{
		Hold: 2 * time.Minute, MinSessions: 50, MaxExtensions: 10,
		Thresholds: config.Thresholds{MaxErrorRate: 0.02, MaxP95: time.Second, MaxP99: 2 * time.Second},
	}
	plan, err := rollout.NewPlan(configured, ro.override)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Hold.D() != 2*time.Minute {
		t.Errorf("--hold 0 (\"0: the configured hold\"): hold %v, configured 2m", plan.Hold)
	}
	if plan.MinSessions != 50 {
		t.Errorf("--min-sessions 0 (\"0: the configured value\"): min_sessions %d, configured 50", plan.MinSessions)
	}
	if plan.MaxExtensions != 10 {
		t.Errorf("--max-extensions 0 (\"0: the configured value\"): max_extensions %d, configured 10", plan.MaxExtensions)
	}
	if plan.Thresholds.MaxErrorRate != 0.02 {
		t.Errorf("--max-error-rate 0 (\"0: the configured limit\"): %v, configured 0.02", plan.Thresholds.MaxErrorRate)
	}
	if plan.Thresholds.MaxP95.D() != time.Second {
		t.Errorf("--max-p95 0 (\"0: the configured limit\"): %v, configured 1s", plan.Thresholds.MaxP95)
	}
	if plan.Thresholds.MaxP99.D() != 2*time.Second {
		t.Errorf("--max-p99 0 (\"0: the configured limit\"): %v (0 = unchecked), configured 2s", plan.Thresholds.MaxP99)
	}
}
