package upstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// rawSocketIO is a Socket.IO backend on a bare websocket: it opens the
// Engine.IO session, accepts the CONNECT to "/", then sends after, one
// text frame each.
func rawSocketIO(t *testing.T, after ...string) string {
	t.Helper()
	return wsBackend(t, "/socket.io/", func(ctx context.Context, ws *websocket.Conn) {
		open := `0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
		if !writeAll(ctx, ws, open) {
			return
		}
		if _, _, err := ws.Read(ctx); err != nil { // 40
			return
		}
		if !writeAll(ctx, ws, `40{"sid":"s1"}`) {
			return
		}
		time.Sleep(200 * time.Millisecond) // the dial has returned
		if writeAll(ctx, ws, after...) {
			drain(ctx, ws)
		}
	})
}

// A connection the backend ended by breaking the protocol counts as
// ProtocolErrors, not AbnormalCloses (see Observe), also when it is the
// Socket.IO client that finds the malformed packet.
func TestObserveSocketIOProtocolErrorCounted(t *testing.T) {
	url := rawSocketIO(t, `42["message",`) // an EVENT whose JSON never ends
	rec := newMonitor(t)
	d := upstream.Observe(&upstream.SocketIODialer{Options: upstream.Options{URL: url}}, rec)
	h := newRecorder()
	c, err := d.Dial(testenv.Context(t, 10*time.Second), h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.waitFor(t, "the close", func(_ []upstream.Event, closed bool) bool { return closed })
	h.mu.Lock()
	cause := h.err
	h.mu.Unlock()
	got := rec.Snapshot().Counts
	t.Logf("close cause: %v", cause)
	if got.ProtocolErrors != 1 || got.AbnormalCloses != 0 {
		t.Fatalf("counts %+v: a malformed packet from a Socket.IO backend should count as ProtocolErrors (errors.Is(cause, upstream.ErrProtocol) = false)", got)
	}
}
