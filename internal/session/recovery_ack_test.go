package session_test

import (
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// Right behind its ack of a recovery's resubscribe, before the recovery
// has ended, the backend breaks the new subscription: its replay skips a
// seq, or it drops the channel (subscription_lost). The session must
// recover the channel again at once: the gap would otherwise wait for
// the channel's next message, which a quiet channel may never send, and
// after a subscription_lost no message comes at all.
func TestBreakRightAfterARecoveryAckIsRecovered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(c *fakeConn)
	}{
		{"gap", func(c *fakeConn) { c.msg("a", 3) }}, // the replay from 1 skips 2
		{"subscription_lost", func(c *fakeConn) {
			c.h.HandleEvent(upstream.Event{Kind: upstream.KindLost, Channel: "a"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, sink, d := attached(t, session.Options{})
			ctx := testenv.Context(t, 10*time.Second)
			c := d.last()
			if _, err := s.Subscribe(ctx, "a", 0, true); err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			c.mu.Lock()
			c.acked = func(_ string, since uint64) {
				if since == 1 {
					once.Do(func() { tc.breakIt(c) })
				}
			}
			c.mu.Unlock()
			c.msg("a", 1)
			c.msg("a", 3) // 2 is missing: the session recovers from 1
			waitCalls(t, c, "subscribe a 0 true", "unsubscribe a", "subscribe a 1 true",
				"unsubscribe a", "subscribe a 1 true")
			c.msg("a", 2) // the second recovery's replay
			c.msg("a", 3)
			sink.CheckExactly(t, "a", 1, 3)
		})
	}
}

// A recovery of the current source is waiting for the operation lock,
// which a move holds, when the incoming source skips a seq; the move
// commits. The gap is the new source's, which the waiting recovery (of
// the old source) does not mend: the session must recover the channel
// on the new source, not wait for its next message.
func TestGapAtACommitWhileARecoveryWaitsIsRecovered(t *testing.T) {
	o := overlapping(t)
	ctx := testenv.Context(t, 10*time.Second)
	if err := o.s.LockOps(ctx); err != nil { // the move's
		t.Fatal(err)
	}
	o.a.h.HandleEvent(upstream.Event{Kind: upstream.KindLost, Channel: "x"}) // A's recovery waits
	o.bc.msg("x", 2)
	o.bc.msg("x", 4) // B skipped 3: a gap, dropped while A overlaps
	old, err := o.s.Commit(o.b)
	if err != nil {
		t.Fatal(err)
	}
	o.s.UnlockOps()
	o.s.Release(old)
	o.waitLastCall(t, o.bc, "subscribe x 2 true", "no recovery of the new source's gap")
}
