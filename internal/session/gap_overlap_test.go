package session_test

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
)

// The current source skips a seq while a move overlaps it with another;
// the move then fails. The old source is the only one again, with a hole
// in its stream: the session recovers the channel (subscribes again with
// since = last) as in steady state, without waiting for another message.
func TestGapDuringAFailedMoveIsRecovered(t *testing.T) {
	o := overlapping(t)
	o.a.msg("x", 3) // A skipped 2: a gap, dropped while B overlaps
	o.s.Abort(o.b)  // the move fails (B refused a subscribe, timed out...)
	o.s.Release(o.b)
	// Nothing more is published on x. In steady state the gap at 3 would
	// have triggered "unsubscribe x" + "subscribe x 1 true" on A.
	o.waitLastCall(t, o.a, "subscribe x 1 true", "no recovery after the failed move (2 and 3 are stuck)")
}

// The incoming source skips a seq during the overlap, before the slower
// current one delivered it; the commit then makes the incoming one the
// only source, and the old one's copies are stale. The session recovers
// the channel on the new source.
func TestGapOnTheIncomingSourceIsRecoveredAfterTheCommit(t *testing.T) {
	o := overlapping(t)
	o.bc.msg("x", 2)
	o.bc.msg("x", 4) // B skipped 3: a gap, dropped while A overlaps
	old, err := o.s.Commit(o.b)
	if err != nil {
		t.Fatal(err)
	}
	o.a.msg("x", 3) // stale now
	o.a.msg("x", 4)
	o.s.Release(old)
	o.waitLastCall(t, o.bc, "subscribe x 2 true", "no recovery after the commit")
}

// overlap is a session subscribed to x on A, which delivered seq 1, with
// B dialed and overlapping it.
type overlap struct {
	s     *session.Session
	sink  *sessiontest.Sink
	a, bc *fakeConn // A's and B's connections
	b     *session.Attachment
}

func overlapping(t *testing.T) overlap {
	t.Helper()
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
	return overlap{s: s, sink: sink, a: a, bc: d.last(), b: b}
}

// waitLastCall waits up to 2 s for c's last call to be want.
func (o overlap) waitLastCall(t *testing.T, c *fakeConn, want, failure string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		calls := c.Calls()
		if len(calls) > 0 && calls[len(calls)-1] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: calls %q; client has seqs %v", failure, calls, o.sink.Seqs("x"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
