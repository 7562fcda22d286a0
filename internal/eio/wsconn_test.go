package eio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes that reach the connection.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// loopbackPair returns both ends of a TCP connection on 127.0.0.1.
func loopbackPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	return server, client
}

func TestGatherWriterBatchesWrites(t *testing.T) {
	server, client := loopbackPair(t)
	cc := &countingConn{Conn: server}
	g := &gatherWriter{conn: cc, timeout: time.Second}

	// Outside a batch every write goes out at once.
	if _, err := g.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	g.begin()
	for range 10 {
		if _, err := g.Write([]byte("bc")); err != nil {
			t.Fatal(err)
		}
	}
	if n := cc.writes.Load(); n != 1 {
		t.Fatalf("writes inside a batch reached the connection: %d writes", n)
	}
	if err := g.end(); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load(); n != 2 {
		t.Fatalf("got %d writes, want 2 (one before the batch, one for it)", n)
	}
	// A batch past gatherLimit is written out as it goes.
	g.begin()
	big := bytes.Repeat([]byte("x"), gatherLimit)
	if _, err := g.Write(big); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load(); n != 3 {
		t.Fatalf("got %d writes after an oversized batch write, want 3", n)
	}
	if err := g.end(); err != nil {
		t.Fatal(err)
	}

	want := 1 + 20 + gatherLimit
	got := make([]byte, want)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if string(got[:21]) != "a"+string(bytes.Repeat([]byte("bc"), 10)) {
		t.Fatalf("bytes out of order: %q", got[:21])
	}
}

// sessionOf returns the server's only session.
func sessionOf(t *testing.T, ts *testServer) *Conn {
	t.Helper()
	ts.srv.mu.Lock()
	defer ts.srv.mu.Unlock()
	if len(ts.srv.conns) != 1 {
		t.Fatalf("%d sessions, want 1", len(ts.srv.conns))
	}
	for _, c := range ts.srv.conns {
		return c
	}
	return nil
}

// TestWebSocketWriterOnlyWhileQueued checks that an idle session has no
// writer goroutine, that one starts for each send, and that frames sent
// with SendFrame arrive as they are.
func TestWebSocketWriterOnlyWhileQueued(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws) // open
	c := sessionOf(t, ts)
	idle := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.writing
	}
	for i := range 3 {
		waitFor(t, idle)
		frame := []byte("4frame" + string(rune('a'+i)))
		if err := c.SendFrame(frame); err != nil {
			t.Fatal(err)
		}
		if _, got := read(t, ws); got != string(frame) {
			t.Fatalf("got %q, want %q", got, frame)
		}
	}
	if err := c.SendFrame([]byte("2ping")); !errors.Is(err, ErrInvalidFrame) {
		t.Errorf("SendFrame of a ping: %v, want ErrInvalidFrame", err)
	}
	if h := c.Request().Header; h.Get("Sec-WebSocket-Key") != "" || h.Get("Upgrade") != "" {
		t.Errorf("handshake headers kept: %v", h)
	}
}

func TestPollingSendFrame(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	if err := ts.srv.lookup(sid).SendFrame([]byte("4shared")); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := do(t, "GET", ts.pollURL(sid), ""); code != 200 || body != "4shared" {
		t.Fatalf("poll: %d %q", code, body)
	}
}

// TestParkConnWait checks that the byte wait takes is handed out first and
// in order, and that a closed connection wakes wait with its error.
func TestParkConnWait(t *testing.T) {
	server, client := loopbackPair(t)
	p := &parkConn{Conn: server}
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	p.wait()
	got := make([]byte, 5)
	if _, err := io.ReadFull(p, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; want hello", got, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.wait()
	}()
	_ = client.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after the peer closed")
	}
	if _, err := p.Read(got); !errors.Is(err, io.EOF) {
		t.Fatalf("read after close: %v, want EOF", err)
	}
}

// TestWebSocketReadsBursts sends messages back to back, some larger than
// the read buffer, so that several arrive in one read: each must be
// delivered, in order, whether the reader finds it buffered or parks.
func TestWebSocketReadsBursts(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws) // open
	var want []string
	for i := range 40 {
		msg := "4" + strings.Repeat(string(rune('a'+i%26)), 1+i*37%600)
		want = append(want, msg)
		send(t, ws, msg)
	}
	for i, w := range want {
		if _, got := read(t, ws); got != w {
			t.Fatalf("message %d: got %d bytes %.10q, want %d bytes %.10q", i, len(got), got, len(w), w)
		}
	}
}
