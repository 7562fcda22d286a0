package testenv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

func TestPoll(t *testing.T) {
	n := 0
	if !testenv.Poll(5*time.Second, func() bool { n++; return n == 3 }) {
		t.Fatal("Poll gave up on a condition that held on the third check")
	}
	if n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}
	calls := 0
	if testenv.Poll(30*time.Millisecond, func() bool { calls++; return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	if calls < 2 {
		t.Errorf("cond called %d times before the deadline, want at least 2", calls)
	}
}

func TestContext(t *testing.T) {
	var ctx context.Context
	t.Run("sub", func(t *testing.T) {
		ctx = testenv.Context(t, time.Minute)
		if err := ctx.Err(); err != nil {
			t.Fatalf("fresh context: %v", err)
		}
	})
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("after the test's cleanup: %v, want context.Canceled", err)
	}
	short := testenv.Context(t, time.Millisecond)
	<-short.Done()
	if err := short.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("after d: %v, want context.DeadlineExceeded", err)
	}
}
