package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/demo"
)

// runDemoCmd runs `baton demo args...` and returns its stdout, stderr and
// exit code.
func runDemoCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"demo"}, args...))
	err := root.ExecuteContext(ctx)
	if err != nil {
		errOut.WriteString(err.Error() + "\n") // as main prints it
	}
	return out.String(), errOut.String(), exitCode(err)
}

// A green that refuses half of the publishes is rolled back (by the green
// check before the first step, or by the first gate); the JSON
// report on stdout says so, every guarantee held on the way back, and the
// exit code is the "not completed" one.
func TestDemoCommandFaultRollsBack(t *testing.T) {
	stdout, stderr, code := runDemoCmd(t, "--json", "--clients", "40", "--rate", "100", "--channels", "10",
		"--request-every", "50ms", "--hold", "300ms", "--fault", "green-errors=50%")
	if code != demo.ExitNotComplete {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, demo.ExitNotComplete, stderr)
	}
	var r demo.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout)
	}
	if r.Outcome != demo.OutcomeRolledBack || !r.OK || r.Fault != "green-errors=50%" {
		t.Errorf("report: outcome %s, ok %v, fault %s; checks %+v", r.Outcome, r.OK, r.Fault, r.Checks)
	}
	if r.Final.Blue != 40 || r.Final.Green != 0 || r.Sessions.Kept != 40 || r.Reconnects != 0 {
		t.Errorf("sessions: final %+v, preserved %+v, reconnects %d", r.Final, r.Sessions, r.Reconnects)
	}
	if m := r.Messages; m.Lost != 0 || m.Duplicated != 0 || m.OutOfOrder != 0 {
		t.Errorf("messages %+v", m)
	}
	// The progress went to stderr, with the controller's transitions.
	for _, want := range []string{"rollout_started", "gate_failed", "rollback_finished"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
}

func TestDemoCommandBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--fault", "green-errors=150%"}, {"--fault", "blue-crash-at=5"}, {"--clients", "-3"}} {
		if _, _, code := runDemoCmd(t, args...); code != 1 {
			t.Errorf("demo %v: exit code %d, want 1", args, code)
		}
	}
	// A zero the demo's configuration would take for "unset" is refused,
	// by the flag's name, rather than run as the default.
	for _, args := range [][]string{{"--clients", "0"}, {"--rate", "0"}, {"--channels", "0"}, {"--subscriptions", "0"}, {"--hold", "0s"}, {"--request-every", "0s"}, {"--timeout", "0s"}} {
		_, stderr, code := runDemoCmd(t, args...)
		if code != 1 || !strings.Contains(stderr, args[0]+" 0") {
			t.Errorf("demo %v: exit code %d, stderr %q; want 1 and the flag named", args, code, stderr)
		}
	}
}

// A broken guarantee is named, with what the clients saw, in the error
// the command exits with.
func TestDemoFailureNamesTheCheck(t *testing.T) {
	r := &demo.Report{Checks: []demo.Check{
		{Name: "nothing lost", Detail: "3 messages missing"},
		{Name: "in order", OK: true, Detail: "0 out of order"},
		{Name: "rollout ended", Detail: "still running when the demo's time ran out"},
	}}
	msg := failedChecks(r)
	for _, want := range []string{"nothing lost (3 messages missing)", "rollout ended (still running"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "in order") {
		t.Errorf("%q names a check that passed", msg)
	}
}
