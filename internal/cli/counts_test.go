package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/admin"
)

// TestCLICountsSingular: a count of one takes the singular noun, "1
// session", not "1 sessions", in every line the CLI prints with a count
// in it; other counts, zero included, keep the plural.
func TestCLICountsSingular(t *testing.T) {
	m := &watchModel{
		status: admin.RolloutStatus{ID: "r1", State: "shifting", Weight: 50, Applied: true},
		metrics: &admin.Metrics{Backends: map[string]admin.BackendMetrics{
			"blue":  {WindowMetrics: admin.WindowMetrics{Sessions: 1}},
			"green": {WindowMetrics: admin.WindowMetrics{Sessions: 0}}}},
		dropped: 1,
	}
	line := metricsLine(m)
	for _, w := range []string{"blue 1 session err", "green 0 sessions err"} {
		if !strings.Contains(line, w) {
			t.Errorf("watch line lacks %q: %s", w, line)
		}
	}
	if f := strings.Join(frame(m), "\n"); !strings.Contains(f, "(1 transition missed;") {
		t.Errorf("frame lacks %q:\n%s", "(1 transition missed;", f)
	}

	srv, _, _ := adminServer(t)
	out, err := baton(context.Background(), "weight", "prepare", "0.01", "--admin", srv.URL, "--token", cliToken)
	if err != nil || strings.TrimSpace(out) != "weight 0.01% prepared: 1 connection, 1 failed" {
		t.Errorf("weight prepare 0.01: %v %q", err, out)
	}
}
