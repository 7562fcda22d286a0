package session_test

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
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

// The current source skips ahead (3 while the client has 1) during an
// overlap; the other source fills 2 but not 3; then the move fails. The
// only source already sent 3, which the session dropped as a gap: it must
// recover the channel from 2, or 3 is lost on a quiet channel. The gap is
// still open when last (2) is just below it.
func TestGapJustAboveLastWhenAMoveFailsIsRecovered(t *testing.T) {
	o := overlapping(t)
	o.a.msg("x", 3)  // A skipped 2: a gap, dropped while B overlaps
	o.bc.msg("x", 2) // B fills 2; its 3 never comes (the move fails)
	o.s.Abort(o.b)
	o.s.Release(o.b)
	o.waitLastCall(t, o.a, "subscribe x 2 true", "seq 3, dropped as a gap, not recovered after the failed move")
}

// A custom event that a connection dialed ahead of a move receives is
// kept until the move; the reader lends its bytes only for HandleEvent, so
// the session must keep a copy: the client gets the event as sent, not
// whatever the reader's buffer holds by the time of the move.
func TestEarlyEventOfAConnectionDialedAheadKeepsItsBytes(t *testing.T) {
	s, sink, d := attached(t, session.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	b, err := s.DialAhead(ctx, router.Green, d)
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte(`"welcome"`)
	arg := []byte(`{"v":1}`)
	d.last().h.HandleEvent(upstream.Event{Kind: upstream.KindEvent, Name: "hello", Data: buf, Args: [][]byte{arg}})
	copy(buf, `"XXXXXXX"`) // the reader reuses its buffer
	copy(arg, `{"v":9}`)
	if n := len(sink.Events()); n != 0 {
		t.Fatalf("%d events before the move; the early event must wait for it", n)
	}
	s.Overlap(b)
	evs := sink.Events()
	if len(evs) != 1 {
		t.Fatalf("events after Overlap: %d, want the early one", len(evs))
	}
	if ev := evs[0]; ev.Name != "hello" || string(ev.Data) != `"welcome"` || len(ev.Args) != 1 || string(ev.Args[0]) != `{"v":1}` {
		t.Fatalf("early event reached the client as %q %s %q; want hello \"welcome\" [{\"v\":1}]", ev.Name, ev.Data, ev.Args)
	}
}
