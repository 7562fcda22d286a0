package app

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
)

// TestStatusShowsADeadBackendNobodyIsOn: at weight 0 no session dials
// green, so only the health probes' own connections can tell that it died;
// the status's "up" must follow them rather than keep the last session
// dial's answer.
func TestStatusShowsADeadBackendNobodyIsOn(t *testing.T) {
	blue, green := testBackends(t)
	r := start(t, testConfig(blue, green, ""), Options{})
	waitGreen := func(what string, ok func(gateway.BackendStatus) bool) gateway.BackendStatus {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := r.Gateway().Status().Backends.Green
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("green's status %+v, want %s", st, what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitGreen("up", func(st gateway.BackendStatus) bool { return st.Known && st.Up })
	green.Kill()
	st := waitGreen("down", func(st gateway.BackendStatus) bool { return !st.Up })
	if st.LastError == "" { // refused, or reset if a dial was under way
		t.Error("no last error, want the failed dial's")
	}
}
