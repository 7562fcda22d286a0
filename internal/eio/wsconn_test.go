package eio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wsconn"
)

// hijackPair hijacks one loopback HTTP connection through hijackResponse
// and returns the server's end (the net.Conn coder/websocket would read
// from), its wsLink, and the client's end.
func hijackPair(t *testing.T) (server net.Conn, l *wsLink, client net.Conn) {
	t.Helper()
	type hijacked struct {
		conn net.Conn
		link *wsLink
	}
	got := make(chan hijacked, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &hijackResponse{Response: wsconn.Response{ResponseWriter: w, Timeout: 5 * time.Second}}
		conn, _, err := hw.Hijack()
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- hijacked{conn, hw.link}
	}))
	t.Cleanup(srv.Close)
	client, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if _, err := io.WriteString(client, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var h hijacked
	select {
	case h = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no hijack")
	}
	if h.conn == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = h.conn.Close() })
	return h.conn, h.link, client
}

func TestGatherWriterFramesGroups(t *testing.T) {
	_, l, client := hijackPair(t)
	g := &l.out

	medium := bytes.Repeat([]byte("m"), 300) // 16-bit length
	big := bytes.Repeat([]byte("b"), 64<<10) // 64-bit length
	groups := []outGroup{
		{frame: []byte("4shared")},
		{packets: []engineio.Packet{{Type: engineio.Ping}, {Type: engineio.Message, Data: []byte{1, 2}, Binary: true}}},
		{packets: []engineio.Packet{{Type: engineio.Message, Data: medium}}},
	}
	var scratch []byte
	if err := g.writeFrames(groups, &scratch); err != nil {
		t.Fatal(err)
	}
	if err := g.writeFrames([]outGroup{{frame: append([]byte("4"), big...)}}, &scratch); err != nil {
		t.Fatal(err)
	}
	const opText, opBinary, opClose = 0x1, 0x2, 0x8
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
	if _, err := g.w.Write([]byte{0x80 | opClose, 0}); err != nil {
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
		testenv.Eventually(t, "the writer to go idle", 5*time.Second, idle)
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

// TestLinkWait checks that the byte wait takes is handed out first and in
// order, and that a closed connection wakes wait with its error.
func TestLinkWait(t *testing.T) {
	server, l, client := hijackPair(t)
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	l.in.wait()
	got := make([]byte, 5)
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; want hello", got, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.in.wait()
	}()
	_ = client.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after the peer closed")
	}
	if _, err := server.Read(got); !errors.Is(err, io.EOF) {
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

// queueBounds are two small queues, one bounded by packets (2), one by
// bytes (10), for the tests of what happens past a bound.
var queueBounds = []struct {
	name string
	cfg  Config
}{
	{"packets", Config{PingInterval: time.Minute, QueuePackets: 2}},
	{"bytes", Config{PingInterval: time.Minute, QueueBytes: 10}},
}

// TestQueueOverflow checks the outbound queue's bounds: past either one the
// session closes as a slow consumer, and later sends find it closed.
func TestQueueOverflow(t *testing.T) {
	for _, tc := range queueBounds {
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
