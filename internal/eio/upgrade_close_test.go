package eio

import (
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A server-side close that lands while a polling client is upgrading,
// after the probe was answered and its poll released (the official client
// then polls no more: it pauses polling and sends the upgrade packet),
// still reaches the client, as from Node, which completes such an upgrade
// and writes what was queued over the new transport before closing it.
// The server cut the probing WebSocket at the close instead: what was
// queued for the next poll was lost, and the official client, whose
// probe failed after it had paused polling, neither polled nor upgraded
// again, and sat on a dead session until its own ping timeout.
func TestServerCloseDuringUpgradeReachesTheClient(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	ws := probed(t, ts, sid)
	if status, got, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || got != "6" {
		t.Fatalf("poll during upgrade: %d %q", status, got)
	}
	c := ts.srv.lookup(sid)
	_ = c.SendText([]byte("bye"))
	_ = c.SendBinary([]byte{9})
	c.Close()
	if err := ts.closeReason(t); !errors.Is(err, ErrClosed) {
		t.Errorf("reason %v", err)
	}
	send(t, ws, "5")
	if _, got := read(t, ws); got != "4bye" {
		t.Errorf("got %q, want 4bye", got)
	}
	if typ, got := read(t, ws); typ != websocket.MessageBinary || got != "\x09" {
		t.Errorf("got %v %q", typ, got)
	}
	if code := waitClosed(t, ws); code != websocket.StatusNormalClosure {
		t.Errorf("close code %v", code)
	}
	// The sid is done: the close went over the WebSocket.
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("poll after the upgraded close: %d", status)
	}
}
