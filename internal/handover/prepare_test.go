package handover_test

import (
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// A backend's greeting on connect (a custom event) sent to a connection
// prepared ahead of a move waits for that move: the client, still on the
// other backend, does not see it before, and does not miss it after. A
// prepared connection that no move takes drops it.
func TestPreparedConnectionGreetsAtTheMove(t *testing.T) {
	greeted := make(chan struct{}, 8)
	d := greetingBackend(t, func(so *sio.Socket) {
		_ = so.Emit("hello", []byte(`"welcome"`))
		greeted <- struct{}{}
	})
	ctx := testenv.Context(t, 10*time.Second)

	sink := sessiontest.NewSink()
	s, err := session.New(session.Options{User: "u1", Protocol: config.ProtocolSocketIO, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := handover.Attach(ctx, s, router.Blue, d, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if !sink.WaitFor(2*time.Second, func() bool { return len(sink.Events()) == 1 }) {
		t.Fatalf("%d events after the first attach; want its greeting", len(sink.Events()))
	}
	<-greeted

	ok, err := handover.Prepare(ctx, s, router.Green, d, handover.Options{})
	if err != nil || !ok {
		t.Fatalf("prepare: %v, %v", ok, err)
	}
	<-greeted
	if sink.WaitFor(300*time.Millisecond, func() bool { return len(sink.Events()) > 1 }) {
		t.Fatal("the prepared connection's greeting reached the client before any move")
	}
	if _, err := handover.Move(ctx, s, router.Green, d, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if !sink.WaitFor(2*time.Second, func() bool { return len(sink.Events()) == 2 }) {
		t.Fatalf("%d events after the move; want the prepared connection's greeting (dropped: %d)", len(sink.Events()), s.Counters().EventsDropped.Load())
	}

	// Prepared for blue, and released unused: its greeting never reaches
	// the client.
	if ok, err := handover.Prepare(ctx, s, router.Blue, d, handover.Options{}); err != nil || !ok {
		t.Fatalf("prepare blue: %v, %v", ok, err)
	}
	<-greeted
	s.ReleaseStandby()
	if sink.WaitFor(300*time.Millisecond, func() bool { return len(sink.Events()) > 2 }) {
		t.Fatal("the greeting of a prepared connection released unused reached the client")
	}
}

// TestPreparedGreetingIsFlushed: the greeting a prepared connection kept
// reaches a sink that writes on Flush (as the edges do) with the move,
// also for a session with no channel, where no subscribe ack follows to
// flush it.
func TestPreparedGreetingIsFlushed(t *testing.T) {
	d := greetingBackend(t, func(so *sio.Socket) { _ = so.Emit("hello", []byte(`"welcome"`)) })
	ctx := testenv.Context(t, 10*time.Second)

	client := sessiontest.NewSink()
	s, err := session.New(session.Options{User: "u1", Protocol: config.ProtocolSocketIO, Sink: &writeOnFlush{Sink: client}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := handover.Attach(ctx, s, router.Blue, d, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if !client.WaitFor(2*time.Second, func() bool { return len(client.Events()) == 1 }) {
		t.Fatalf("%d events written after the first attach; want its greeting", len(client.Events()))
	}
	if ok, err := handover.Prepare(ctx, s, router.Green, d, handover.Options{}); err != nil || !ok {
		t.Fatalf("prepare: %v, %v", ok, err)
	}
	if _, err := handover.Move(ctx, s, router.Green, d, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if !client.WaitFor(2*time.Second, func() bool { return len(client.Events()) == 2 }) {
		t.Fatalf("%d events written after the move; want the prepared connection's greeting too", len(client.Events()))
	}
}

// writeOnFlush is a session.Sink that, like the edges' sinks, writes what
// Deliver queued to its client (a recording Sink) only on Flush.
type writeOnFlush struct {
	*sessiontest.Sink
	mu     sync.Mutex
	queued []upstream.Event
}

func (w *writeOnFlush) Deliver(ev upstream.Event) error {
	w.mu.Lock()
	w.queued = append(w.queued, ev.Clone())
	w.mu.Unlock()
	return nil
}

func (w *writeOnFlush) Flush() {
	w.mu.Lock()
	out := w.queued
	w.queued = nil
	w.mu.Unlock()
	for _, ev := range out {
		_ = w.Sink.Deliver(ev)
	}
}
