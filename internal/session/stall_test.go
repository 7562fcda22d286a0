package session_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// behindSink is a sink whose client is behind (session.Pacer) while the
// test says so.
type behindSink struct {
	*sessiontest.Sink
	behind atomic.Bool
}

func (s *behindSink) Pace()        {}
func (s *behindSink) Behind() bool { return s.behind.Load() }

// stallBound is the watchdog's bound in these tests.
const stallBound = 200 * time.Millisecond

// movedToAcked moves a session subscribed to x, at seq 1, to a new
// connection whose ack announced seq 10, and starts its watchdog.
func movedToAcked(t *testing.T) (*session.Session, *behindSink, *fakeConn, chan error) {
	t.Helper()
	sink := &behindSink{Sink: sessiontest.NewSink()}
	dropped := make(chan error, 4)
	s, err := session.New(session.Options{Sink: sink, OnDrop: func(_ *session.Session, err error) { dropped <- err }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := testenv.Context(t, 10*time.Second)
	d := &fakeDialer{}
	a, err := s.Dial(ctx, router.Blue, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, "x", 0, true); err != nil {
		t.Fatal(err)
	}
	d.last().msg("x", 1)
	b, err := s.Dial(ctx, router.Green, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Overlap(b) {
		s.Acked(b, r, upstream.Position{Seq: 10, HasSeq: true})
	}
	old, err := s.Commit(b)
	if err != nil {
		t.Fatal(err)
	}
	s.Release(old)
	s.Watch(b, stallBound)
	return s, sink, d.last(), dropped
}

// noDrop fails the test if a drop was reported.
func noDrop(t *testing.T, dropped chan error) {
	t.Helper()
	select {
	case err := <-dropped:
		t.Fatalf("dropped (%v) a connection that was not stalling", err)
	default:
	}
}

// A connection that acked seq 10 and then stalls is closed and reported
// as a drop with ErrStalled; one that keeps offering the channel's
// messages, however slowly, or that its client holds back, is not.
func TestStallWatch(t *testing.T) {
	t.Run("stalls", func(t *testing.T) {
		_, _, c, dropped := movedToAcked(t)
		c.msg("x", 2)
		select {
		case err := <-dropped:
			if !errors.Is(err, session.ErrStalled) {
				t.Fatalf("drop reported with %v, want ErrStalled", err)
			}
		case <-time.After(10 * stallBound):
			t.Fatal("the stalling connection was not dropped")
		}
	})
	t.Run("slow replay", func(t *testing.T) {
		_, sink, c, dropped := movedToAcked(t)
		for seq := uint64(2); seq <= 10; seq++ { // 9 × bound/2: longer than the bound
			time.Sleep(stallBound / 2)
			c.msg("x", seq)
		}
		sink.CheckExactly(t, "x", 1, 10)
		time.Sleep(2 * stallBound) // the position reached: watched no more
		noDrop(t, dropped)
	})
	t.Run("client behind", func(t *testing.T) {
		_, sink, c, dropped := movedToAcked(t)
		sink.behind.Store(true)
		time.Sleep(5 * stallBound) // nothing comes while the client is behind
		noDrop(t, dropped)
		sink.behind.Store(false)
		for seq := uint64(2); seq <= 10; seq++ {
			c.msg("x", seq)
		}
		sink.CheckExactly(t, "x", 1, 10)
		time.Sleep(2 * stallBound)
		noDrop(t, dropped)
	})
}

// A channel the watched connection loses (subscription_lost) waits for
// its recovery, which waits for the operation lock: a move holds it for
// up to handover.timeout, the watchdog's bound, and then closes its
// failed target, and the client's subscribes may be queued ahead. The
// connection owes nothing on the channel meanwhile, so that wait is no
// stall; once resubscribed it must bring the channel up to the position
// as before. Before, the wait was counted as one, the healthy connection
// closed and reported with ErrStalled (a quick drop, moves.stalls).
func TestStallWatchWaitsOutALostChannelsRecovery(t *testing.T) {
	s, sink, c, dropped := movedToAcked(t)
	ctx := testenv.Context(t, 10*time.Second)
	if err := s.LockOps(ctx); err != nil { // as a move does
		t.Fatal(err)
	}
	c.h.HandleEvent(upstream.Event{Kind: upstream.KindLost, Channel: "x"})
	time.Sleep(2 * stallBound) // the recovery waits for the lock
	noDrop(t, dropped)
	s.UnlockOps()
	testenv.Eventually(t, "the recovery's resubscribe of x", 10*time.Second, func() bool {
		return slices.Contains(c.Calls(), "subscribe x 1 true")
	})
	for seq := uint64(2); seq <= 10; seq++ {
		c.msg("x", seq)
	}
	sink.CheckExactly(t, "x", 1, 10)
	time.Sleep(2 * stallBound)
	noDrop(t, dropped)
}
