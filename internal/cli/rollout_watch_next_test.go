package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestWatchSaysTheEndedRolloutIsThePreviousOne: watch started after a
// rollout ended (before the operator's next start) reports that end at
// once, with its code, as scripts running `start` then `watch` rely on;
// it must say that this is a rollout that had ended before watch started,
// not a new one, and how to wait for the next.
func TestWatchSaysTheEndedRolloutIsThePreviousOne(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ro := &cliRollout{st: rollout.State{ID: "r1", Phase: rollout.Completed, EndedAt: time.Now().Add(-time.Hour)}}
	url, stop := adminOn(t, "127.0.0.1:0", ro, nil)
	defer stop(true)
	for _, flags := range [][]string{{"--plain"}, {"--json"}} {
		stdout, stderr, code := runBaton(testenv.Context(t, 20*time.Second),
			append([]string{"rollout", "watch", "--admin", url, "--token", cliToken}, flags...)...)
		if c := exited(t, code); c != exitCompleted {
			t.Fatalf("watch %v: exit %d, want %d; stderr: %s", flags, c, exitCompleted, stderr)
		}
		notes := stdout.String()
		if flags[0] == "--json" {
			notes = stderr.String() // stdout holds the JSON Lines alone
		}
		if !strings.Contains(notes, "r1 had already ended") || !strings.Contains(notes, "--next") {
			t.Errorf("watch %v on a rollout ended before it started does not say so, nor how to wait for the next:\n%s", flags, notes)
		}
	}
}

// TestWatchNextWaitsForTheNextRollout: watch --next, started after a
// rollout ended, waits for the next rollout to start and follows it to
// its end and exit code.
func TestWatchNextWaitsForTheNextRollout(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ro := &cliRollout{st: rollout.State{ID: "r1", Phase: rollout.RolledBack, EndedAt: time.Now().Add(-time.Hour)}}
	url, stop := adminOn(t, "127.0.0.1:0", ro, nil)
	defer stop(true)
	out, done := watch(t, url, "--plain", "--next")
	testenv.Eventually(t, "watch to wait for the next rollout", 5*time.Second, func() bool {
		return strings.Contains(out.String(), "waiting for the next rollout")
	})
	select {
	case err := <-done:
		t.Fatalf("watch --next ended on the rollout that had ended before it started: %v; output:\n%s", err, out.String())
	default:
	}

	if _, err := ro.Start(context.Background(), &rollout.Override{Steps: []float64{100}}); err != nil {
		t.Fatal(err)
	}
	ro.emit(rollout.Event{Kind: rollout.EventStepStarted}, func(s *rollout.State) {
		s.Phase, s.Step, s.Weight = rollout.Shifting, 1, router.Full
	})
	testenv.Eventually(t, "watch to follow the new rollout", 5*time.Second, func() bool { return strings.Contains(out.String(), "shifting step 1/1") })
	ro.emit(rollout.Event{Kind: rollout.EventCompleted}, func(s *rollout.State) {
		s.Phase, s.EndedAt = rollout.Completed, time.Now()
	})
	if err := result(t, done); exitCode(err) != exitCompleted {
		t.Fatalf("exit code %d (%v), want 0 (the new rollout completed); output:\n%s", exitCode(err), err, out.String())
	}
}

// TestWatchNextReconnectsToTheRolloutItWaitedFor: watch --next follows
// the rollout it waited for (r7, after r1), and loses its connection
// before a metrics tick has brought r7's status (the gateway restarts
// right after the start). Back, it finds r7 still running: that is the
// rollout it follows, not one that replaced it while watch was away.
func TestWatchNextReconnectsToTheRolloutItWaitedFor(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ro := &cliRollout{st: rollout.State{ID: "r1", Phase: rollout.Completed, EndedAt: time.Now().Add(-time.Hour)}}
	slow := admin.StreamOptions{MetricsInterval: time.Hour} // no tick but each stream's first
	url, stop := adminOnStream(t, "127.0.0.1:0", ro, nil, slow)
	out, done := watch(t, url, "--plain", "--next", "--reconnect-for", "15s")
	testenv.Eventually(t, "watch to wait for the next rollout", 5*time.Second, func() bool {
		return strings.Contains(out.String(), "waiting for the next rollout")
	})
	if _, err := ro.Start(context.Background(), &rollout.Override{Steps: []float64{100}}); err != nil {
		t.Fatal(err)
	}
	ro.emit(rollout.Event{Kind: rollout.EventStepStarted, RolloutID: "r7"}, func(s *rollout.State) {
		s.Phase, s.Step, s.Weight = rollout.Shifting, 1, router.Full
	})
	testenv.Eventually(t, "watch to follow r7", 5*time.Second, func() bool { return strings.Contains(out.String(), "step_started") })

	stop(false)
	testenv.Eventually(t, "the reconnecting notice", 5*time.Second, func() bool { return strings.Contains(out.String(), "reconnecting…") })
	testenv.Eventually(t, "the old stream to close", 5*time.Second, func() bool { return ro.subscribers() == 0 })
	_, stop = adminOnStream(t, strings.TrimPrefix(url, "http://"), ro, nil, slow)
	defer stop(true)
	testenv.Eventually(t, "watch to reconnect", 5*time.Second, func() bool { return strings.Contains(out.String(), "reconnected") || len(done) > 0 })
	ro.emit(rollout.Event{Kind: rollout.EventCompleted, RolloutID: "r7"}, func(s *rollout.State) {
		s.Phase, s.EndedAt = rollout.Completed, time.Now()
	})
	if err := result(t, done); exitCode(err) != exitCompleted {
		t.Fatalf("exit code %d (%v), want 0 (r7, the rollout waited for, completed); output:\n%s", exitCode(err), err, out.String())
	}
}
