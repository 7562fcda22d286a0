package eio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
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

func TestGatherWriterBatchesFrames(t *testing.T) {
	server, client := loopbackPair(t)
	cc := &countingConn{Conn: server}
	g := &gatherWriter{conn: cc, timeout: time.Second}

	medium := bytes.Repeat([]byte("m"), 300)      // 16-bit length
	big := bytes.Repeat([]byte("b"), gatherLimit) // 64-bit length, written apart
	groups := []outGroup{
		{frame: []byte("4shared")},
		{packets: []engineio.Packet{{Type: engineio.Ping}, {Type: engineio.Message, Data: []byte{1, 2}, Binary: true}}},
		{packets: []engineio.Packet{{Type: engineio.Message, Data: medium}}},
	}
	var scratch []byte
	if err := g.writeFrames(groups, &scratch); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load(); n != 1 {
		t.Fatalf("a small batch took %d writes, want 1", n)
	}
	if err := g.writeFrames([]outGroup{{frame: append([]byte("4"), big...)}}, &scratch); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		op      byte
		payload string
	}{
		{opText, "4shared"},
		{opText, "2"},
		{opBinary, "\x01\x02"},
		{opText, "4" + string(medium)},
		{opText, "4" + string(big)},
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, w := range want {
		op, payload := readFrame(t, client)
		if op != w.op || string(payload) != w.payload {
			t.Fatalf("frame %d: op %d, %d bytes %.10q; want op %d, %d bytes %.10q",
				i, op, len(payload), payload, w.op, len(w.payload), w.payload)
		}
	}

	// After a close frame from coder/websocket no message may follow.
	if _, err := g.Write([]byte{0x80 | opClose, 0}); err != nil {
		t.Fatal(err)
	}
	if err := g.writeFrames(groups, &scratch); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("writeFrames after close: %v, want net.ErrClosed", err)
	}
}

// readFrame reads one unmasked, final frame.
func readFrame(t *testing.T, r io.Reader) (op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	if h[0]&0xf0 != 0x80 || h[1]&0x80 != 0 {
		t.Fatalf("frame header %x: want final and unmasked", h)
	}
	n := uint64(h[1])
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			t.Fatal(err)
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			t.Fatal(err)
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatal(err)
	}
	return h[0] & 0x0f, payload
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

// TestQueueOverflow checks the outbound queue's bounds: past either one the
// session closes as a slow consumer, and later sends find it closed.
func TestQueueOverflow(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"packets", Config{PingInterval: time.Minute, QueuePackets: 2}},
		{"bytes", Config{PingInterval: time.Minute, QueueBytes: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg)
			c := ts.srv.lookup(ts.openPolling(t))
			for range 2 {
				if err := c.SendText([]byte("abcd")); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.SendText([]byte("abcd")); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("third send: %v, want ErrSlowConsumer", err)
			}
			if err := c.SendText([]byte("x")); !errors.Is(err, ErrClosed) {
				t.Fatalf("send after overflow: %v, want ErrClosed", err)
			}
			if err := ts.closeReason(t); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("close reason %v", err)
			}
		})
	}
}
