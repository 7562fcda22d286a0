package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestWatchPlainPrintsChanges: not on a terminal, watch prints a metrics
// line when something the line shows changed, not on every tick; while
// nothing changes it repeats the line every plainEvery, so that a log
// shows watch alive.
func TestWatchPlainPrintsChanges(t *testing.T) {
	var b bytes.Buffer
	ui := &watchUI{out: &b}
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m := &watchModel{
		status: admin.RolloutStatus{ID: "r1", State: "shifting", Step: 1, Steps: 2, Weight: 50, Applied: true},
		metrics: &admin.Metrics{At: at, Backends: map[string]admin.BackendMetrics{
			"blue":  {WindowMetrics: admin.WindowMetrics{Sessions: 100}},
			"green": {WindowMetrics: admin.WindowMetrics{Sessions: 100, P95Ms: 12}}}},
	}
	lines := func() int { return strings.Count(b.String(), "\n") }
	tick := func(d time.Duration) {
		at = at.Add(d)
		m.metrics.At = at
		ui.render(m)
	}
	tick(0)
	for range 5 {
		tick(time.Second)
	}
	if n := lines(); n != 1 {
		t.Fatalf("%d lines for 6 ticks that change nothing, want 1:\n%s", n, b.String())
	}
	m.metrics.Backends["green"] = admin.BackendMetrics{WindowMetrics: admin.WindowMetrics{Sessions: 100, P95Ms: 13}}
	tick(time.Second)
	m.status.State = "paused"
	tick(time.Second)
	if n := lines(); n != 3 {
		t.Fatalf("%d lines after a p95 and a state change, want 3:\n%s", n, b.String())
	}
	tick(plainEvery - time.Second)
	if n := lines(); n != 3 {
		t.Fatalf("%d lines before plainEvery, want 3:\n%s", n, b.String())
	}
	tick(time.Second)
	if n := lines(); n != 4 {
		t.Fatalf("%d lines once plainEvery passed without a change, want 4 (the periodic line):\n%s", n, b.String())
	}
}

// TestWatchJSONEndedRolloutOneStatus: watch --json on a rollout that had
// already ended prints its status once: the stream's first event is that
// status, and the final status line would repeat it byte for byte.
func TestWatchJSONEndedRolloutOneStatus(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ro := &cliRollout{st: rollout.State{ID: "r1", Phase: rollout.RolledBack, Reason: "gate failed"}}
	url, stop := adminOn(t, "127.0.0.1:0", ro, nil)
	defer stop(true)
	stdout, stderr, code := runBaton(testenv.Context(t, 20*time.Second),
		"rollout", "watch", "--json", "--admin", url, "--token", cliToken)
	if c := exited(t, code); c != exitRolledBack {
		t.Fatalf("exit %d, want %d; stderr: %s", c, exitRolledBack, stderr)
	}
	lines := jsonLines(t, stdout.String())
	if len(lines) != 1 || lines[0].Event != "status" {
		t.Fatalf("%d lines, want the one status:\n%s", len(lines), stdout)
	}
}
