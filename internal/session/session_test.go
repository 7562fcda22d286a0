package session_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// attached returns a session attached to a fake connection on blue.
func attached(t *testing.T, opts session.Options) (*session.Session, *sessiontest.Sink, *fakeDialer) {
	t.Helper()
	sink := sessiontest.NewSink()
	opts.Sink = sink
	s, err := session.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	d := &fakeDialer{}
	a, err := s.Dial(testenv.Context(t, 10*time.Second), router.Blue, d)
	if err != nil {
		t.Fatal(err)
	}
	if old, err := s.Commit(a); err != nil || old != nil {
		t.Fatalf("commit: %v, %v", old, err)
	}
	return s, sink, d
}

func waitCalls(t *testing.T, c *fakeConn, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(c.Calls(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("calls %q, want %q", c.Calls(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSeqRule: duplicates are dropped, a gap is recovered by subscribing
// again with since=last, and the client sees each seq once, in order.
func TestSeqRule(t *testing.T) {
	s, sink, d := attached(t, session.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	c := d.last()
	c.pos = upstream.Position{Seq: 0, HasSeq: true}
	if _, err := s.Subscribe(ctx, "a", 0, false); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 2, 2, 1, 3} {
		c.msg("a", seq)
	}
	c.msg("a", 5) // 4 is missing
	waitCalls(t, c, "subscribe a 0 false", "unsubscribe a", "subscribe a 3 true")
	c.msg("a", 4) // the replay
	c.msg("a", 5)
	c.msg("b", 1) // not subscribed
	sink.CheckExactly(t, "a", 1, 5)
	n := s.Counters()
	if n.Duplicates.Load() != 2 || n.Gaps.Load() != 1 || n.Stale.Load() != 1 {
		t.Errorf("duplicates %d gaps %d stale %d, want 2 1 1", n.Duplicates.Load(), n.Gaps.Load(), n.Stale.Load())
	}
	if !sink.WaitFor(5*time.Second, func() bool { return n.Recovered.Load() == 1 }) {
		t.Error("recovery not counted")
	}
}

// TestBaseline: the position in the subscribe ack, or the first message,
// sets where the channel starts; since given by the client sets it too.
func TestBaseline(t *testing.T) {
	s, sink, d := attached(t, session.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	c := d.last()
	c.pos = upstream.Position{Seq: 10, HasSeq: true}
	if _, err := s.Subscribe(ctx, "a", 0, false); err != nil {
		t.Fatal(err)
	}
	c.msg("a", 10) // already covered by the ack's position
	c.msg("a", 11)
	c.pos = upstream.Position{}
	if _, err := s.Subscribe(ctx, "b", 0, false); err != nil {
		t.Fatal(err)
	}
	c.msg("b", 42) // no position known: the first message sets it
	c.msg("b", 43)
	if _, err := s.Subscribe(ctx, "c", 7, true); err != nil {
		t.Fatal(err)
	}
	c.msg("c", 8)
	sink.CheckExactly(t, "a", 11, 11)
	sink.CheckExactly(t, "b", 42, 43)
	sink.CheckExactly(t, "c", 8, 8)
	info := s.Info()
	slices.SortFunc(info.Subscriptions, func(x, y session.SubscriptionInfo) int { return strings.Compare(x.Channel, y.Channel) })
	if len(info.Subscriptions) != 3 || info.Subscriptions[0].LastSeq != 11 || info.Subscriptions[1].LastSeq != 43 {
		t.Errorf("info %+v", info)
	}
}

// TestLostRecoveryFails: a subscription the backend dropped and refuses
// to restore is reported to the client as KindLost and forgotten.
func TestLostRecoveryFails(t *testing.T) {
	s, sink, d := attached(t, session.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	c := d.last()
	if _, err := s.Subscribe(ctx, "a", 3, true); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.subErr["a"] = &upstream.RemoteError{Code: "history_gone"}
	c.mu.Unlock()
	c.h.HandleEvent(upstream.Event{Kind: upstream.KindLost, Channel: "a"})
	if !sink.WaitFor(5*time.Second, func() bool { return len(sink.Events()) == 1 }) {
		t.Fatal("no lost event")
	}
	if ev := sink.Events()[0]; ev.Kind != upstream.KindLost || ev.Channel != "a" || len(ev.Data) == 0 {
		t.Fatalf("event %+v", ev)
	}
	if n := len(s.Info().Subscriptions); n != 0 || s.Counters().RecoveryFailed.Load() != 1 {
		t.Fatalf("%d subscriptions left, %d failures", n, s.Counters().RecoveryFailed.Load())
	}
}

// TestSubscribeRefusals: bad names, duplicates and the subscription cap
// are refused locally.
func TestSubscribeRefusals(t *testing.T) {
	s, _, d := attached(t, session.Options{MaxSubscriptions: 1})
	ctx := testenv.Context(t, 10*time.Second)
	if _, err := s.Subscribe(ctx, "", 0, false); !errors.Is(err, session.ErrInvalidChannel) {
		t.Errorf("empty channel: %v", err)
	}
	if _, err := s.Subscribe(ctx, "a", 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, "a", 0, false); !errors.Is(err, session.ErrAlreadySubscribed) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := s.Subscribe(ctx, "b", 0, false); !errors.Is(err, session.ErrTooManySubscriptions) {
		t.Errorf("over the cap: %v", err)
	}
	if err := s.Unsubscribe(ctx, "b"); !errors.Is(err, session.ErrNotSubscribed) {
		t.Errorf("unsubscribe not held: %v", err)
	}
	d.last().mu.Lock()
	d.last().subErr["c"] = &upstream.RemoteError{Code: "bad_since"}
	d.last().mu.Unlock()
	if err := s.Unsubscribe(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, "c", 9, true); !upstream.IsCode(err, "bad_since") {
		t.Errorf("backend refusal: %v", err)
	}
	if n := len(s.Info().Subscriptions); n != 0 {
		t.Errorf("%d subscriptions after refusals", n)
	}
}

// TestOverlapAndCommit: during an attach both connections are sources;
// after the commit only the new one is. Custom events, which have no seq,
// reach the client from both connections until the old one is drained
// (counted as possible duplicates), and not after.
func TestOverlapAndCommit(t *testing.T) {
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
	if r := s.Overlap(b); len(r) != 1 || r[0] != (session.Resume{Channel: "x", Since: 1, HasSince: true}) {
		t.Fatalf("resume %+v", r)
	}
	bc.msg("x", 2) // B is faster
	a.msg("x", 2)  // duplicate
	a.msg("x", 3)  // A is faster
	bc.msg("x", 3) // duplicate
	bc.h.HandleEvent(upstream.Event{Kind: upstream.KindEvent, Name: "from-b"})
	a.h.HandleEvent(upstream.Event{Kind: upstream.KindEvent, Name: "from-a"})
	old, err := s.Commit(b)
	if err != nil || old == nil || old.Conn() != upstream.Conn(a) {
		t.Fatalf("commit: %v", err)
	}
	a.msg("x", 4) // no longer a source
	bc.msg("x", 4)
	bc.h.HandleEvent(upstream.Event{Kind: upstream.KindEvent, Name: "from-b"})
	a.h.HandleEvent(upstream.Event{Kind: upstream.KindEvent, Name: "from-retiring-a"})
	if err := s.Drain(ctx, old); err != nil {
		t.Fatal(err)
	}
	a.h.HandleEvent(upstream.Event{Kind: upstream.KindEvent, Name: "from-drained-a"})
	s.Release(old)
	a.h.HandleEvent(upstream.Event{Kind: upstream.KindEvent, Name: "from-released-a"})
	sink.CheckExactly(t, "x", 1, 4)
	var names []string
	for _, ev := range sink.Events() {
		names = append(names, ev.Name)
	}
	if !slices.Equal(names, []string{"from-b", "from-a", "from-b", "from-retiring-a"}) {
		t.Errorf("custom events %q", names)
	}
	if c, live := s.Attached(); c != router.Green || !live {
		t.Errorf("attached to %v (live %v)", c, live)
	}
	n := s.Counters()
	if n.Duplicates.Load() != 2 || n.Stale.Load() != 1 || n.EventsOverlap.Load() != 2 || n.EventsDropped.Load() != 2 {
		t.Errorf("duplicates %d stale %d overlapping events %d dropped events %d",
			n.Duplicates.Load(), n.Stale.Load(), n.EventsOverlap.Load(), n.EventsDropped.Load())
	}
}

// TestDrainAndDetached: Drain waits for requests in flight; a dropped
// connection is reported once, and requests wait for the next attachment.
func TestDrainAndDetached(t *testing.T) {
	drops := make(chan error, 2)
	s, _, d := attached(t, session.Options{OnDrop: func(_ *session.Session, err error) { drops <- err }})
	ctx := testenv.Context(t, 10*time.Second)
	a := d.last()
	a.mu.Lock()
	a.publish = make(chan struct{})
	a.mu.Unlock()
	published := make(chan error, 1)
	go func() {
		_, err := s.Publish(ctx, "p", []byte(`1`))
		published <- err
	}()
	waitCalls(t, a, "publish p")

	b, err := s.Dial(ctx, router.Green, d)
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Commit(b)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if err := s.Drain(short, old); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("drain with a request in flight: %v", err)
	}
	cancel()
	close(a.publish)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if err := s.Drain(ctx, old); err != nil {
		t.Fatalf("drain after the request: %v", err)
	}
	s.Release(old)
	select {
	case err := <-drops:
		t.Fatalf("released connection reported as dropped: %v", err)
	default:
	}

	// The current connection drops: reported, and a publish waits.
	d.last().end(errors.New("reset"))
	if err := <-drops; err == nil || err.Error() != "reset" {
		t.Fatalf("drop: %v", err)
	}
	short, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.Publish(short, "p", []byte(`1`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish while detached: %v", err)
	}
	go func() {
		_, err := s.Publish(ctx, "p", []byte(`2`))
		published <- err
	}()
	c, err := s.Dial(ctx, router.Blue, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(c); err != nil {
		t.Fatal(err)
	}
	if err := <-published; err != nil {
		t.Fatalf("publish after re-attach: %v", err)
	}
	s.Close()
	if _, err := s.Publish(ctx, "p", []byte(`3`)); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// TestPark: a left attachment becomes the standby only while nothing
// else is, or is being, attached to its backend and keep says so; a
// standby is taken once, for its own backend only.
func TestPark(t *testing.T) {
	s, _, d := attached(t, session.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	keep := func(router.Color) bool { return true }
	blue := moveTo(t, s, router.Green, d)
	if s.Park(blue, func(router.Color) bool { return false }) {
		t.Fatal("parked although keep said no")
	}
	if !s.Park(blue, keep) {
		t.Fatal("the left blue attachment was not parked")
	}
	if c, ok := s.Standby(); !ok || c != router.Blue {
		t.Fatalf("standby %v, %v", c, ok)
	}
	// A standby has left every channel: a custom event it still gets (a
	// backend's broadcast) is not the client's.
	blue.Conn().(*fakeConn).h.HandleEvent(upstream.Event{Kind: upstream.KindEvent, Name: "to-standby"})
	if n := s.Counters().EventsDropped.Load(); n != 1 {
		t.Fatalf("a standby's event: %d dropped, want 1", n)
	}
	if s.Park(blue, keep) {
		t.Fatal("parked a second standby")
	}
	if a := s.TakeStandby(router.Green); a != nil {
		t.Fatal("took a blue standby for green")
	}
	if a := s.TakeStandby(router.Blue); a != blue {
		t.Fatal("the blue standby was not taken")
	}
	if _, ok := s.Standby(); ok {
		t.Fatal("a taken standby is still held")
	}

	// A move back to blue that dials: the old blue attachment, parked
	// late, must not sit beside the new blue one.
	next, err := s.Dial(ctx, router.Blue, d)
	if err != nil {
		t.Fatal(err)
	}
	s.Overlap(next)
	if s.Park(blue, keep) {
		t.Fatal("parked a blue standby while a blue attachment is being brought in")
	}
	s.Abort(next)
	s.Release(next)
	s.Close()
	if s.Park(blue, keep) {
		t.Fatal("parked on a closed session")
	}
	s.Release(blue)
}
