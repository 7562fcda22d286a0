package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/testenv"
)

// A move back to blue that found no standby dials; if the retirement of
// the previous blue connection parks it meanwhile, the commit of the new
// one releases that standby: a session holds no standby on the backend
// it is attached to.
func TestCommitDropsAStandbyOnTheSameBackend(t *testing.T) {
	s, _, d := attached(t, session.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	keep := func(router.Color) bool { return true }
	g, err := s.Dial(ctx, router.Green, d)
	if err != nil {
		t.Fatal(err)
	}
	s.Overlap(g)
	oldBlue, err := s.Commit(g)
	if err != nil {
		t.Fatal(err)
	}
	if a := s.TakeStandby(router.Blue); a != nil {
		t.Fatal("a standby before any was parked")
	}
	nb, err := s.Dial(ctx, router.Blue, d)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Park(oldBlue, keep) { // the retirement, under way meanwhile
		t.Fatal("the old blue connection was not parked")
	}
	s.Overlap(nb)
	if _, err := s.Commit(nb); err != nil {
		t.Fatal(err)
	}
	if c, has := s.Standby(); has {
		t.Fatalf("attached to blue with a standby on %v", c)
	}
	testenv.Eventually(t, "the dropped standby closed", 5*time.Second, func() bool {
		select {
		case <-oldBlue.Conn().Done():
			return true
		default:
			return false
		}
	})
}

// An ended context or a closed session never wins the operation lock,
// though the lock is free (select picks at random among ready cases).
func TestLockOpsRefusedAfterTheEnd(t *testing.T) {
	s, _, _ := attached(t, session.Options{})
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for range 200 {
		if err := s.LockOps(done); err == nil {
			t.Fatal("an ended context took the lock")
		}
	}
	s.Close()
	for range 200 {
		if err := s.LockOps(context.Background()); !errors.Is(err, session.ErrClosed) {
			t.Fatalf("a closed session's lock: %v, want ErrClosed", err)
		}
	}
}
