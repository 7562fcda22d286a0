package handover_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// heldConn holds its publishes until gate is closed, and tells when it is
// closed.
type heldConn struct {
	upstream.Conn
	entered, gate, closed chan struct{}
	once                  *sync.Once
}

func (c heldConn) Publish(ctx context.Context, channel string, data []byte) (uint64, error) {
	c.entered <- struct{}{}
	<-c.gate
	return c.Conn.Publish(ctx, channel, data)
}

func (c heldConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// A move lets the requests in flight on the old backend finish before it
// closes that connection (bounded by the drain timeout): a publish that
// was under way when the session moved gets its answer from blue.
func TestMoveDrainsTheOldBackendsRequests(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	held := heldConn{entered: make(chan struct{}, 1), gate: make(chan struct{}), closed: make(chan struct{}), once: new(sync.Once)}
	blue := wrapDialer{e.blue.Dialer(), func(c upstream.Conn, _ upstream.Handler) upstream.Conn {
		held.Conn = c
		return held
	}}
	// Put the session on a blue connection that holds publishes.
	if _, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := handover.Move(ctx, e.s, router.Blue, blue, handover.Options{}); err != nil {
		t.Fatal(err)
	}

	published := make(chan error, 1)
	go func() {
		_, err := e.s.Publish(ctx, "a", []byte(`"in flight"`))
		published <- err
	}()
	<-held.entered
	moved := make(chan error, 1)
	go func() {
		_, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), handover.Options{DrainTimeout: 20 * time.Second})
		moved <- err
	}()
	testenv.Eventually(t, "the session on green", 10*time.Second, func() bool { return color(e.s) == router.Green })
	select {
	case <-held.closed:
		t.Fatal("the old blue connection was closed with a publish in flight on it")
	case <-time.After(100 * time.Millisecond):
	}
	close(held.gate)
	if err := <-published; err != nil {
		t.Fatalf("publish in flight during the move: %v", err)
	}
	if err := <-moved; err != nil {
		t.Fatalf("move: %v", err)
	}
	select {
	case <-held.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the old blue connection was not closed after its publish")
	}
}

// recordConn records the subscribes made on it.
type recordConn struct {
	upstream.Conn
	mu   *sync.Mutex
	subs *[]string
}

func (c recordConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	c.mu.Lock()
	*c.subs = append(*c.subs, fmt.Sprintf("%s %d %v", channel, since, hasSince))
	c.mu.Unlock()
	return c.Conn.Subscribe(ctx, channel, since, hasSince)
}

// A move whose commit fails (here: the incoming connection lost a channel)
// takes that connection out of the session entirely: blue is again the
// channels' only source, so a gap blue shows later is recovered at once
// (resubscribe with since = last), not parked for an overlap that has
// ended.
func TestFailedCommitLeavesBlueTheOnlySource(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	var (
		mu   sync.Mutex
		subs []string
		bh   upstream.Handler
	)
	blue := wrapDialer{e.blue.Dialer(), func(c upstream.Conn, h upstream.Handler) upstream.Conn {
		bh = h
		return recordConn{Conn: c, mu: &mu, subs: &subs}
	}}
	sink := sessiontest.NewSink()
	s, err := session.New(session.Options{User: "u2", Protocol: config.ProtocolLegacy, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := handover.Attach(ctx, s, router.Blue, blue, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, "q", 0, false); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.b.Publish(ctx, "q", []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	sink.WaitSeq(t, "q", 3, 10*time.Second)

	lost := wrapDialer{e.green.Dialer(), func(c upstream.Conn, h upstream.Handler) upstream.Conn { return lostConn{Conn: c, h: h, channel: "q"} }}
	if _, err := handover.Move(ctx, s, router.Green, lost, handover.Options{}); !errors.Is(err, session.ErrLostWhileBroughtIn) {
		t.Fatalf("move: %v, want ErrLostWhileBroughtIn", err)
	}
	// Blue skips ahead: seq 6 while the client has 3.
	bh.HandleEvent(upstream.Event{Kind: upstream.KindMessage, Channel: "q", Seq: 6, Data: []byte(`1`)})
	testenv.Eventually(t, "blue to recover q from seq 3", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(subs, "q 3 true")
	})
}
