package testenv

import (
	"testing"
	"time"
)

// PollInterval is how long Poll and Eventually sleep between two checks:
// short enough not to slow a test down, long enough not to load the shared
// machine with the checks themselves.
const PollInterval = 10 * time.Millisecond

// Poll calls cond every PollInterval until it returns true or d has passed,
// and reports whether it held. cond is checked once more after the deadline,
// so a slow check that ends late is not lost. Use it where a test wants to
// report the timeout itself (or from a goroutine other than the test's);
// Eventually is the usual form.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(PollInterval)
	}
	return true
}

// Eventually fails the test at once, naming what it waited for, unless cond
// holds within d (see Poll). Like t.Fatal, it must be called from the
// test's goroutine.
func Eventually(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}
