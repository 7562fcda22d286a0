package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// watchLine is one line of `baton rollout watch --json`.
type watchLine struct {
	Event string          `json:"event"`
	ID    string          `json:"id"`
	Data  json.RawMessage `json:"data"`
}

// jsonLines parses every line of out, or fails.
func jsonLines(t *testing.T, out string) []watchLine {
	t.Helper()
	var lines []watchLine
	for l := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		var wl watchLine
		if err := json.Unmarshal([]byte(l), &wl); err != nil || wl.Event == "" || len(wl.Data) == 0 {
			t.Fatalf("line %q is not an event object (%v); stdout:\n%s", l, err, out)
		}
		lines = append(lines, wl)
	}
	return lines
}

// TestWatchJSON: with --json, watch prints one JSON object per event on
// stdout, across a reconnect, and the final status last; its notices go to
// stderr, and the exit codes are those of the plain output.
func TestWatchJSON(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ro := shiftingRollout(t)
	url, stop := adminOn(t, "127.0.0.1:0", ro, nil)
	stdout, stderr, code := runBaton(testenv.Context(t, 20*time.Second),
		"rollout", "watch", "--json", "--admin", url, "--token", cliToken, "--reconnect-for", "15s")
	testenv.Eventually(t, "a metrics line", 5*time.Second, func() bool { return strings.Contains(stdout.String(), `"event":"metrics"`) })

	stop(false)
	testenv.Eventually(t, "the reconnecting notice", 5*time.Second, func() bool { return strings.Contains(stderr.String(), "reconnecting…") })
	testenv.Eventually(t, "the old stream to close", 5*time.Second, func() bool { return ro.subscribers() == 0 })
	ro.emit(rollout.Event{Kind: rollout.EventStepStarted}, func(s *rollout.State) { s.Step, s.Weight = 2, router.Full })
	_, stop = adminOn(t, strings.TrimPrefix(url, "http://"), ro, nil)
	defer stop(true)
	testenv.Eventually(t, "the new stream", 5*time.Second, func() bool { return ro.subscribers() == 1 })
	// The new stream opens with a status snapshot; emitted before that
	// snapshot is taken, the completion would be in it, and watch would end
	// on it without the transition line this test looks for.
	testenv.Eventually(t, "the new stream's status line", 5*time.Second, func() bool {
		return strings.Count(stdout.String(), `"event":"status"`) >= 2
	})
	ro.emit(rollout.Event{Kind: rollout.EventCompleted}, func(s *rollout.State) {
		s.Phase, s.EndedAt = rollout.Completed, time.Now()
	})
	if c := exited(t, code); c != 0 {
		t.Fatalf("exit %d; stderr: %s", c, stderr)
	}

	lines := jsonLines(t, stdout.String())
	seen := map[string]bool{}
	completed := false
	for _, l := range lines {
		seen[l.Event] = true
		var tr struct{ Kind, To string }
		if l.Event == "transition" && json.Unmarshal(l.Data, &tr) == nil && tr.Kind == "rollout_completed" && tr.To == "completed" {
			completed = true
		}
	}
	if !seen["status"] || !seen["metrics"] || !completed {
		t.Errorf("want status, metrics and the rollout_completed transition; stdout:\n%s", stdout)
	}
	var last struct{ State string }
	if l := lines[len(lines)-1]; l.Event != "status" || json.Unmarshal(l.Data, &last) != nil || last.State != "completed" {
		t.Errorf("last line %s %s, want the final status", l.Event, l.Data)
	}
	if e := stderr.String(); !strings.Contains(e, "reconnected") || strings.Contains(e, "{") {
		t.Errorf("stderr: %q", e)
	}
}
