package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestFirstAttachByAWeightChangeIsNoMove: Attach registers a new
// session before it takes the session's operation lock to attach it, so
// a weight change may list the session in between and attach it first
// (Attach's own attach then finds it attached). That first attach is no
// move between backends: it must count neither in the change's moved
// nor in the status' moves.done.
func TestFirstAttachByAWeightChangeIsNoMove(t *testing.T) {
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	blue, green := backendtest.Legacy(t, b), backendtest.SocketIO(t, b)
	table, err := router.NewTable("baton", 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Router: router.New(table), Blue: blue.Dialer(), Green: green.Dialer()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Close(ctx)
	})
	ctx := testenv.Context(t, 30*time.Second)

	// Where Attach stands between registering the session and locking it.
	s, err := session.New(session.Options{User: "u", Protocol: config.ProtocolLegacy, Sink: sessiontest.NewSink(), Counters: &g.counters, OnDrop: g.onDrop})
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.sessions[s.ID()] = s
	g.mu.Unlock()

	moved, failed, err := g.SetWeight(ctx, router.Full)
	if err != nil || failed != 0 {
		t.Fatalf("SetWeight: failed %d, %v", failed, err)
	}
	if c, live := s.Attached(); c != router.Green || !live {
		t.Fatalf("session on %v (live %v), want attached to green", c, live)
	}
	st := g.Status()
	if moved != 0 || st.Moves.Done != 0 {
		t.Errorf("a first attach counted as a move: moved %d, moves.done %d; want 0 and 0", moved, st.Moves.Done)
	}
	if st.Sessions.Green != 1 || st.Sessions.Detached != 0 {
		t.Errorf("status sessions %+v, want 1 on green", st.Sessions)
	}
}
