package testenv

import (
	"context"
	"testing"
	"time"
)

// Context returns a context for a test's blocking calls that is canceled
// after d, so a hung peer fails the test instead of running into the go
// test timeout, or at the test's cleanup, whichever comes first. It is not
// derived from t.Context on purpose: that one is canceled before the
// cleanups run, and cleanups registered by the test may still use this one.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
