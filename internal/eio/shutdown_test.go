package eio

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
)

// openSessions dials n WebSocket sessions and reads their open packets.
func openSessions(t *testing.T, ts *testServer, n int) []*websocket.Conn {
	t.Helper()
	wss := make([]*websocket.Conn, n)
	for i := range wss {
		wss[i] = dial(t, ts.wsURL("EIO=4&transport=websocket"))
		read(t, wss[i])
	}
	return wss
}

// TestShutdownWithinDeadline: a drain period longer than ctx allows is
// cut to fit, so every session still gets its graceful close (1001) and
// Shutdown succeeds.
func TestShutdownWithinDeadline(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute, DrainPeriod: time.Hour})
	wss := openSessions(t, ts, 3)
	codes := testenv.CloseCodes(testenv.Context(t, 30*time.Second), wss)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range wss {
		if code := <-codes; code != websocket.StatusGoingAway {
			t.Errorf("session closed with %v, want %v", code, websocket.StatusGoingAway)
		}
		if err := ts.closeReason(t); !errors.Is(err, ErrShutdown) {
			t.Errorf("close reason %v, want %v", err, ErrShutdown)
		}
	}
	if _, _, err := dialRaw(ts.wsURL("EIO=4&transport=websocket")); err == nil {
		t.Error("a session opened after Shutdown")
	}
}

// TestShutdownContextEnds: when ctx ends during the drain, the sessions
// not closed yet are closed at once and cut; every one ends for the
// shutdown and Shutdown reports ctx's error.
func TestShutdownContextEnds(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute, DrainPeriod: time.Hour})
	wss := openSessions(t, ts, 3)
	codes := testenv.CloseCodes(testenv.Context(t, 30*time.Second), wss)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- ts.srv.Shutdown(ctx) }()
	// The first close comes at once; the next is due in half an hour.
	if code := <-codes; code != websocket.StatusGoingAway {
		t.Errorf("first session closed with %v, want %v", code, websocket.StatusGoingAway)
	}
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown: %v, want %v", err, context.Canceled)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown still draining after its context ended")
	}
	for range wss[1:] {
		<-codes // each ended, gracefully or cut
	}
	for range wss {
		if err := ts.closeReason(t); !errors.Is(err, ErrShutdown) {
			t.Errorf("close reason %v, want %v", err, ErrShutdown)
		}
	}
}
