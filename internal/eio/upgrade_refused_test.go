package eio

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// dialDeaf opens a WebSocket to ts at query with a raw client that will
// never answer anything, a close frame included, and returns what it
// reads past the 101.
func dialDeaf(t *testing.T, ts *testServer, query string) *bufio.Reader {
	t.Helper()
	addr := ts.http.Listener.Addr().String()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	req := "GET /engine.io/?" + query + " HTTP/1.1\r\nHost: " + addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", res.StatusCode)
	}
	return br
}

// heldFor reads br until the server drops the connection, and returns
// how long that took and the last bytes read (the close frame's).
func heldFor(t *testing.T, br *bufio.Reader) (time.Duration, []byte) {
	t.Helper()
	start := time.Now()
	rest, err := io.ReadAll(br)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("read until the server's close: %v (after %v)", err, took)
	}
	return took, rest
}

// graceLimit is how long a close may hold a socket whose client does
// not answer: closeGrace, and scheduling slack.
const graceLimit = closeGrace + closeGrace/2

// A WebSocket that cannot upgrade its session (here: the session closed
// and lingers for its last poll) is accepted and closed at once. The
// server waited coder/websocket's 5 s for the client's close frame,
// holding the socket and a goroutine: a client that never answers the
// close could keep many such sockets open. The refused upgrade waits no
// longer than any other close (closeGrace).
func TestRefusedUpgradeClosesWithinTheCloseGrace(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	c := ts.srv.lookup(sid)
	_ = c.SendText([]byte("last"))
	c.Close() // the sid stays valid until a poll collects the close
	ts.closeReason(t)

	br := dialDeaf(t, ts, "EIO=4&transport=websocket&sid="+sid)
	took, rest := heldFor(t, br)
	if len(rest) != 4 || rest[0] != 0x88 {
		t.Errorf("server sent %x, want a close frame", rest)
	}
	if took > graceLimit {
		t.Errorf("the refused upgrade held the socket %v after the 101, want at most %v",
			took.Round(time.Millisecond), graceLimit)
	}
}

// The close of a session whose client does not answer the close frame
// ends after closeGrace: the timer's CloseNow did nothing while Close
// was waiting (coder/websocket's CloseNow only waits for a Close in
// progress), so every such close, and Shutdown with it, took 5 s.
func TestCloseGraceCutsAnUnresponsiveClient(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	br := dialDeaf(t, ts, "EIO=4&transport=websocket")
	c := sessionOf(t, ts)
	c.Close()
	took, rest := heldFor(t, br)
	if n := len(rest); n < 4 || rest[n-4] != 0x88 {
		t.Errorf("server sent %x, want the open packet and a close frame", rest)
	}
	if took > graceLimit {
		t.Errorf("the close held the socket %v, want at most %v", took.Round(time.Millisecond), graceLimit)
	}
}
