package scenario

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sleep"
	"github.com/baton-rt/baton/internal/testenv"
)

// Sizes of the rollout scenarios: about 60 clients, half Go legacy and half
// official socket.io-client, enough for every gate to have samples.
const (
	rolloutGo, rolloutNode = 30, 30
	rolloutChannels        = 8
	rolloutRate            = 100 // msg/s through Redis
	requestEvery           = 200 * time.Millisecond
)

// rolloutRun is one rollout driven through the CLI binary while the
// clients receive and request: it returns watch's result, the final
// rollout state and the request counts.
type rolloutRun struct {
	watch    cliResult
	final    admin.RolloutStatus
	ok, errs uint64
}

// runRollout connects the fleets, starts the publisher and requesters,
// runs `baton rollout start` then `baton rollout watch` to its end, and
// checks every stream (nothing lost, duplicated or out of order, no client
// disconnected) once the rollout ended. want is where every session must
// be then.
func runRollout(t *testing.T, rc *rolloutCluster, want router.Color) rolloutRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	channels := rc.channels(rolloutChannels)
	f := startFleets(t, ctx, rc.cluster, rolloutGo, rolloutNode, channels, 3)
	n := len(f.members)
	pub := startPublisher(rc.broker, channels, rolloutRate)
	req := startRequesters(f, rc.prefix+"requests", requestEvery)
	_ = sleep.For(ctx, time.Second) // both backends gather samples before the first gate

	if r := rc.runCLI(t, 30*time.Second, "start"); r.code != 0 {
		t.Fatalf("baton rollout start: exit %d: %s", r.code, r.out)
	}
	var run rolloutRun
	run.watch = rc.runCLI(t, 3*time.Minute, "watch", "--plain")
	var err error
	if run.final, err = rc.rollout(); err != nil {
		t.Fatal(err)
	}
	_ = sleep.For(ctx, 500*time.Millisecond) // traffic after the last move
	run.ok, run.errs = req.stop()
	t.Logf("rollout %s ended %s after %d ms (reason %q); watch exit %d; requests %d acked, %d refused",
		run.final.ID, run.final.State, run.final.ElapsedMs, run.final.Reason, run.watch.code, run.ok, run.errs)
	for _, h := range run.final.History {
		t.Logf("  step %d weight %v: moved %d failed %d in %d ms, %s", h.Step, h.Weight, h.Moved, h.Failed, h.MovesMs, h.Outcome)
	}

	st := rc.waitStatus(t, 30*time.Second, func(st admin.Status) bool {
		return st.Sessions.Detached == 0 && (want == router.Green && st.Sessions.Green == n || want == router.Blue && st.Sessions.Blue == n)
	})
	if st.Moves.Failed != 0 {
		t.Errorf("moves %+v: want none failed", st.Moves)
	}
	rc.checkSessions(t, f.members, allOn(want))
	f.verify(t, pub.stop())
	if t.Failed() {
		t.Logf("--- baton rollout watch ---\n%s", tail(run.watch.out, 40))
	}
	return run
}

// TestScenarioRolloutHealthy: a healthy green takes every session through
// 10→25→50→75→100 %; watch exits 0; no client notices.
func TestScenarioRolloutHealthy(t *testing.T) {
	rc := startRolloutCluster(t, rolloutOptions{testMode: true})
	run := runRollout(t, rc, router.Green)
	if run.watch.code != 0 || run.final.State != string(rollout.Completed) {
		t.Errorf("watch exit %d, rollout %s (%s), want exit 0 and completed", run.watch.code, run.final.State, run.final.Reason)
	}
	if len(run.final.History) != 5 {
		t.Errorf("history %+v, want the 5 default steps", run.final.History)
	}
	if run.errs != 0 {
		t.Errorf("%d requests refused on a healthy pair", run.errs)
	}
}

// TestScenarioRolloutGreenErrors: green refuses 3 % of publish requests.
// A gate fails, the controller rolls back by itself, watch exits 2, and
// every session is back on blue with its subscriptions and every message.
func TestScenarioRolloutGreenErrors(t *testing.T) {
	rc := startRolloutCluster(t, rolloutOptions{testMode: true, greenArgs: []string{"--fault-error-rate", "0.03"}})
	run := runRollout(t, rc, router.Blue)
	if run.watch.code != 2 || run.final.State != string(rollout.RolledBack) || run.final.Emergency {
		t.Errorf("watch exit %d, rollout %s (emergency %v, %s), want exit 2 and an automatic rollback",
			run.watch.code, run.final.State, run.final.Emergency, run.final.Reason)
	}
	if !strings.Contains(run.watch.out, "rolled back") {
		t.Errorf("watch output does not say rolled back: %s", tail(run.watch.out, 10))
	}
}

// TestScenarioRolloutGatewayRestart: the gateway is stopped (SIGTERM)
// during a step's hold and started again on the same configuration and
// bolt file. The rollout resumes at its stored step with the same id and
// completes without entering any step twice. Clients reconnect to the new
// process, so this case checks the rollout's state, not the clients'.
func TestScenarioRolloutGatewayRestart(t *testing.T) {
	rc := startRolloutCluster(t, rolloutOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	channels := rc.channels(4)
	startGoFleet(t, ctx, rc.edgeAddr, fleetSpecs("legacy", 20, channels, 2, 21))

	// Holds of 1.5 s (no test mode) leave time to stop the gateway inside
	// one; three steps keep the run short.
	if r := rc.runCLI(t, 30*time.Second, "start", "--steps", "10,50,100", "--hold", "1500ms"); r.code != 0 {
		t.Fatalf("baton rollout start: exit %d: %s", r.code, r.out)
	}
	var before admin.RolloutStatus
	if !testenv.Poll(60*time.Second, func() bool {
		var err error
		before, err = rc.rollout()
		return err == nil && (before.State == string(rollout.Shifting) && before.Step == 2 && before.Applied || admin.Terminal(before.State))
	}) || before.State != string(rollout.Shifting) {
		t.Fatalf("rollout never held step 2: %+v", before)
	}
	rc.restartGateway(t)
	// The drain closed the clients (with 1001); a fleet connects again, as
	// reconnecting clients would.
	again := startGoFleet(t, ctx, rc.edgeAddr, fleetSpecs("again", 20, channels, 2, 22))

	after, err := rc.rollout()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped at %s step %d weight %v; restarted: %s step %d weight %v", before.State, before.Step, before.Weight, after.State, after.Step, after.Weight)
	if after.ID != before.ID || after.Step != before.Step || after.Weight != before.Weight {
		t.Errorf("after the restart: rollout %s step %d weight %v, want %s step %d weight %v",
			after.ID, after.Step, after.Weight, before.ID, before.Step, before.Weight)
	}
	w := rc.runCLI(t, 2*time.Minute, "watch", "--plain")
	final, err := rc.rollout()
	if err != nil {
		t.Fatal(err)
	}
	if w.code != 0 || final.State != string(rollout.Completed) || final.ID != before.ID {
		t.Fatalf("watch exit %d, rollout %s %s (%s), want exit 0 and %s completed: %s",
			w.code, final.ID, final.State, final.Reason, before.ID, tail(w.out, 20))
	}
	entered := map[int]int{}
	for _, h := range final.History {
		entered[h.Step]++
		t.Logf("  step %d weight %v: moved %d in %d ms, %s", h.Step, h.Weight, h.Moved, h.MovesMs, h.Outcome)
	}
	for step, k := range entered {
		if k != 1 {
			t.Errorf("step %d entered %d times: %+v", step, k, final.History)
		}
	}
	if len(entered) != 3 {
		t.Errorf("steps entered %v, want 1, 2 and 3 once each", entered)
	}
	// The clients that connected again are all on green now.
	if st, err := rc.status(); err != nil || st.Weight != 100 || st.Sessions.Green != len(again.clients) || st.Sessions.Blue != 0 {
		t.Errorf("status after completion: %+v (%v)", st, err)
	}
}
