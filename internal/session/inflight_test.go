package session_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// asyncDialer makes fake connections whose PublishAsync only writes: the
// reply comes when the test calls it (replies), or never, with err set.
type asyncDialer struct {
	fakeDialer
	replies chan func(uint64, error)
	err     error
}

type asyncConn struct {
	*fakeConn
	d *asyncDialer
}

func (d *asyncDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := d.fakeDialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	return asyncConn{fakeConn: c.(*fakeConn), d: d}, nil
}

func (c asyncConn) PublishAsync(_ context.Context, channel string, _ []byte, reply func(uint64, error)) error {
	c.record("publish-async " + channel)
	if c.d.err != nil {
		return c.d.err
	}
	c.d.replies <- reply
	return nil
}

// attachedTo returns a session attached to blue through d, and the
// attachment.
func attachedTo(t *testing.T, d upstream.Dialer) (*session.Session, *sessiontest.Sink, *session.Attachment) {
	t.Helper()
	sink := sessiontest.NewSink()
	s, err := session.New(session.Options{Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	a, err := s.Dial(testenv.Context(t, 10*time.Second), router.Blue, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(a); err != nil {
		t.Fatal(err)
	}
	return s, sink, a
}

// moveTo attaches s to backend c through d and returns the old attachment.
func moveTo(t *testing.T, s *session.Session, c router.Color, d upstream.Dialer) *session.Attachment {
	t.Helper()
	b, err := s.Dial(testenv.Context(t, 10*time.Second), c, d)
	if err != nil {
		t.Fatal(err)
	}
	s.Overlap(b)
	old, err := s.Commit(b)
	if err != nil {
		t.Fatal(err)
	}
	return old
}

// TestPublishAsyncInFlightUntilItsReply: an asynchronous publish counts as
// in flight on its connection until its reply arrives, not only until it is
// written, so that a move drains it before closing the old connection (the
// client would otherwise never get its answer).
func TestPublishAsyncInFlightUntilItsReply(t *testing.T) {
	d := &asyncDialer{replies: make(chan func(uint64, error), 1)}
	s, _, _ := attachedTo(t, d)
	ctx := testenv.Context(t, 10*time.Second)
	answered := make(chan error, 1)
	if err := s.PublishAsync(ctx, "p", []byte(`1`), func(_ uint64, err error) { answered <- err }); err != nil {
		t.Fatal(err)
	}
	reply := <-d.replies
	old := moveTo(t, s, router.Green, d)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.Drain(short, old); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("drain with an asynchronous publish unanswered: %v, want DeadlineExceeded", err)
	}
	reply(7, nil)
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if err := s.Drain(ctx, old); err != nil {
		t.Fatalf("drain after the reply: %v", err)
	}
}

// TestPublishAsyncFailureIsNotInFlight: a PublishAsync that fails to write
// (and so never replies) leaves nothing in flight: a later move's drain of
// that connection does not wait out its timeout.
func TestPublishAsyncFailureIsNotInFlight(t *testing.T) {
	d := &asyncDialer{err: errors.New("write failed")}
	s, _, a := attachedTo(t, d)
	ctx := testenv.Context(t, 10*time.Second)
	if err := s.PublishAsync(ctx, "p", []byte(`1`), func(uint64, error) { t.Error("reply of a failed write") }); err == nil {
		t.Fatal("PublishAsync: want the write error")
	}
	if n := session.Inflight(a); n != 0 {
		t.Fatalf("%d requests in flight after a failed PublishAsync, want 0", n)
	}
	old := moveTo(t, s, router.Green, d)
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := s.Drain(short, old); err != nil {
		t.Fatalf("drain after a failed PublishAsync: %v", err)
	}
}

// TestSubscribeWaitingForAMoveGoesToTheNewBackend: a subscribe that took
// the current connection and then waited for the operation lock while a
// move held it subscribes on the connection the move committed, not on the
// old one (which is about to be released: the channel would stay silent).
func TestSubscribeWaitingForAMoveGoesToTheNewBackend(t *testing.T) {
	d := &fakeDialer{}
	s, _, a := attachedTo(t, d)
	ac := d.last()
	ctx := testenv.Context(t, 10*time.Second)
	if err := s.LockOps(ctx); err != nil { // the move
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Subscribe(ctx, "y", 0, false)
		done <- err
	}()
	testenv.Eventually(t, "the subscribe to take the current connection", 5*time.Second, func() bool { return session.Inflight(a) == 1 })
	old := moveTo(t, s, router.Green, d)
	bc := d.last()
	s.UnlockOps()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(bc.Calls(), "subscribe y 0 false") || slices.Contains(ac.Calls(), "subscribe y 0 false") {
		t.Fatalf("subscribe during a move: old connection %q, new %q; want it on the new one only", ac.Calls(), bc.Calls())
	}
	s.Release(old)
}

// TestUnsequencedMessagesPassDuringAnOverlap: messages without seq are
// delivered from both sources while a move overlaps them (nothing is lost;
// each is counted as a possible duplicate).
func TestUnsequencedMessagesPassDuringAnOverlap(t *testing.T) {
	o := overlapping(t)
	o.a.h.HandleEvent(upstream.Event{Kind: upstream.KindMessage, Channel: "x", Data: []byte(`"a"`)})
	o.bc.h.HandleEvent(upstream.Event{Kind: upstream.KindMessage, Channel: "x", Data: []byte(`"b"`)})
	if got := o.sink.Seqs("x"); !slices.Equal(got, []uint64{1, 0, 0}) {
		t.Fatalf("client got seqs %v, want [1 0 0] (both unsequenced messages)", got)
	}
	if n := o.s.Counters().Unsequenced.Load(); n != 2 {
		t.Fatalf("Unsequenced = %d, want 2", n)
	}
}
