package session_test

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/testenv"
)

// The current source skips a seq while a move overlaps it with another;
// the move then fails. The old source is the only one again, with a hole
// in its stream: the session recovers the channel (subscribes again with
// since = last) as in steady state, without waiting for another message.
func TestGapDuringAFailedMoveIsRecovered(t *testing.T) {
	s, sink, d := attached(t, session.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	a := d.last()
	if _, err := s.Subscribe(ctx, "x", 0, true); err != nil {
		t.Fatal(err)
	}
	a.msg("x", 1)
	b, err := s.Dial(ctx, router.Green, d)
	if err != nil {
		t.Fatal(err)
	}
	s.Overlap(b)
	a.msg("x", 3) // A skipped 2: a gap, dropped while B overlaps
	s.Abort(b)    // the move fails (B refused a subscribe, timed out...)
	s.Release(b)
	// Nothing more is published on x. In steady state the gap at 3 would
	// have triggered "unsubscribe x" + "subscribe x 1 true" on A.
	deadline := time.Now().Add(2 * time.Second)
	for {
		calls := a.Calls()
		if len(calls) >= 3 && calls[len(calls)-1] == "subscribe x 1 true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the failed move: calls on A %q; client has seqs %v (2 and 3 are stuck)", calls, sink.Seqs("x"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The incoming source skips a seq during the overlap, before the slower
// current one delivered it; the commit then makes the incoming one the
// only source, and the old one's copies are stale. The session recovers
// the channel on the new source.
func TestGapOnTheIncomingSourceIsRecoveredAfterTheCommit(t *testing.T) {
	s, sink, d := attached(t, session.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	a := d.last()
	if _, err := s.Subscribe(ctx, "x", 0, true); err != nil {
		t.Fatal(err)
	}
	a.msg("x", 1)
	b, err := s.Dial(ctx, router.Green, d)
	if err != nil {
		t.Fatal(err)
	}
	bc := d.last()
	s.Overlap(b)
	bc.msg("x", 2)
	bc.msg("x", 4) // B skipped 3: a gap, dropped while A overlaps
	old, err := s.Commit(b)
	if err != nil {
		t.Fatal(err)
	}
	a.msg("x", 3) // stale now
	a.msg("x", 4)
	s.Release(old)
	deadline := time.Now().Add(2 * time.Second)
	for {
		calls := bc.Calls()
		if len(calls) >= 1 && calls[len(calls)-1] == "subscribe x 2 true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the commit: calls on B %q; client has seqs %v", calls, sink.Seqs("x"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
