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

// emitCommit offers the events of one controller commit, as the controller
// does: fn changes the state once, and every event carries the state it
// ends in.
func (r *cliRollout) emitCommit(evs []rollout.Event, fn func(*rollout.State)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	from := r.st.Phase
	fn(&r.st)
	for _, e := range evs {
		e.From, e.To, e.Step, e.Weight, e.Time = from, r.st.Phase, r.st.Step, r.st.Weight, time.Now()
		for _, ch := range r.subs {
			select {
			case ch <- e:
			default:
			}
		}
	}
}

// TestWatchShowsTheWholeLastCommit: the last step's gate ends a rollout
// with three events in one commit (verdict, step_passed,
// rollout_completed), all carrying to=completed; watch prints each of
// them, the rollout_completed the docs promise last, before it exits.
func TestWatchShowsTheWholeLastCommit(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, flags := range [][]string{{"--plain"}, {"--json"}} {
		ro := shiftingRollout(t)
		ro.emit(rollout.Event{Kind: rollout.EventStepStarted}, func(s *rollout.State) { s.Step, s.Weight = 2, router.Full })
		url, stop := adminOn(t, "127.0.0.1:0", ro, nil)
		stdout, stderr, code := runBaton(testenv.Context(t, 20*time.Second),
			append([]string{"rollout", "watch", "--admin", url, "--token", cliToken}, flags...)...)
		testenv.Eventually(t, "the stream to open", 5*time.Second, func() bool { return ro.subscribers() == 1 })
		testenv.Eventually(t, "the first metrics", 5*time.Second, func() bool {
			return strings.Contains(stdout.String(), "metrics") || strings.Contains(stdout.String(), "shifting step 2/2")
		})
		v := &rollout.Verdict{Step: 2, Weight: 100, Outcome: rollout.Pass}
		ro.emitCommit([]rollout.Event{
			{Kind: rollout.EventVerdict, Verdict: v, Message: "step 2: pass"},
			{Kind: rollout.EventStepPassed, Verdict: v, Message: "step 2 passed at 100%"},
			{Kind: rollout.EventCompleted, Message: "everyone on green"},
		}, func(s *rollout.State) { s.Phase, s.EndedAt = rollout.Completed, time.Now() })
		if c := exited(t, code); c != 0 {
			t.Fatalf("watch %v: exit %d; stderr: %s", flags, c, stderr)
		}
		out := stdout.String()
		var kinds []string
		if flags[0] == "--json" {
			for _, l := range jsonLines(t, out) {
				var tr struct{ Kind string }
				if l.Event == "transition" && json.Unmarshal(l.Data, &tr) == nil {
					kinds = append(kinds, tr.Kind)
				}
			}
		} else {
			for _, k := range []string{"verdict", "step_passed", "rollout_completed"} {
				if strings.Contains(out, " "+k+" ") {
					kinds = append(kinds, k)
				}
			}
		}
		if got := strings.Join(kinds, ","); !strings.HasSuffix(got, "verdict,step_passed,rollout_completed") {
			t.Errorf("watch %v printed transitions %q, want verdict, step_passed and rollout_completed; stdout:\n%s", flags, got, out)
		}
		stop(true)
	}
}
