package edge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
)

// openLegacy dials n legacy clients (users u0, u1, ...) and reads their
// welcomes: each is then in the edge's set that Shutdown drains.
func openLegacy(ctx context.Context, t *testing.T, addr string, n int) []*websocket.Conn {
	t.Helper()
	cs := make([]*websocket.Conn, n)
	for i := range cs {
		c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://%s%s?user=u%d", addr, edge.LegacyPath, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.CloseNow() })
		if f := read(ctx, t, c); f.Type != "welcome" {
			t.Fatalf("first frame %+v, want welcome", f)
		}
		cs[i] = c
	}
	return cs
}

// TestShutdownWithinDeadline: a drain period longer than ctx allows is
// cut to fit, so every client still gets its 1001 and Shutdown succeeds.
func TestShutdownWithinDeadline(t *testing.T) {
	ed, _, addr := startEdgeWith(t, edge.Options{DrainPeriod: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := openLegacy(ctx, t, addr, 3)
	codes := testenv.CloseCodes(ctx, cs)

	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	if err := ed.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range cs {
		if code := <-codes; code != websocket.StatusGoingAway {
			t.Errorf("client closed with %v, want %v", code, websocket.StatusGoingAway)
		}
	}
}

// TestShutdownContextEnds: when ctx ends during the drain, the
// connections not closed yet are all closed at once for the shutdown
// (given 1001, checked on the server's side: their close frame races the
// cut that follows at once, so a client may see either), every connection
// ends, and Shutdown reports ctx's error.
func TestShutdownContextEnds(t *testing.T) {
	ed, _, addr := startEdgeWith(t, edge.Options{DrainPeriod: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := openLegacy(ctx, t, addr, 3)
	closeCodes := edge.LegacyCloseCodes(ed)
	codes := testenv.CloseCodes(ctx, cs)

	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	res := make(chan error, 1)
	go func() { res <- ed.Shutdown(sctx) }()
	// The first close comes at once; the next is due in half an hour.
	if code := <-codes; code != websocket.StatusGoingAway {
		t.Fatalf("first client closed with %v, want %v", code, websocket.StatusGoingAway)
	}
	scancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v, want %v", err, context.Canceled)
	}
	for range cs[1:] {
		<-codes // closed or cut: either way, ended
	}
	if ctx.Err() != nil {
		t.Fatal("a client's connection did not end")
	}
	got := closeCodes()
	if len(got) != len(cs) {
		t.Fatalf("%d connections drained, want %d", len(got), len(cs))
	}
	for i, code := range got {
		if code != websocket.StatusGoingAway {
			t.Errorf("connection %d was given close code %v, want %v", i, code, websocket.StatusGoingAway)
		}
	}
	if st := ed.Stats(); st.Legacy != 0 {
		t.Errorf("legacy connections after Shutdown: %d", st.Legacy)
	}
}
