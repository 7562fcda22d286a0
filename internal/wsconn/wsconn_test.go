package wsconn

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
)

// serve starts a server that upgrades a request through Response and runs
// fn on the server's side after the upgrade; it returns the server's
// address. The test's cleanup waits for fn to end.
func serve(t *testing.T, fn func(ws *websocket.Conn, l *Link)) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &Response{ResponseWriter: w, Timeout: 5 * time.Second}
		ws, err := websocket.Accept(hw, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		go func() {
			defer close(done)
			defer ws.CloseNow()
			fn(ws, hw.Link)
		}()
	}))
	t.Cleanup(func() { <-done; srv.Close() })
	return srv.Listener.Addr().String()
}

// pair upgrades one loopback connection through Response and returns the
// client's end; serve runs on the server's side after the upgrade.
func pair(t *testing.T, fn func(ws *websocket.Conn, l *Link)) *websocket.Conn {
	t.Helper()
	addr := serve(t, fn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func TestBatchFramesInOrder(t *testing.T) {
	big := bytes.Repeat([]byte("x"), gatherLimit+10)
	mid := bytes.Repeat([]byte("m"), 300)
	want := []struct {
		typ  websocket.MessageType
		data []byte
	}{
		{websocket.MessageText, []byte(`{"a":1}`)},
		{websocket.MessageBinary, []byte{0, 1, 2}},
		{websocket.MessageText, mid},
		{websocket.MessageText, big},
		{websocket.MessageText, []byte("last")},
	}
	c := pair(t, func(ws *websocket.Conn, l *Link) {
		w := l.Writer()
		if err := w.Begin(); err != nil {
			t.Error(err)
			return
		}
		for _, m := range want {
			if m.typ == websocket.MessageBinary {
				w.Binary(m.data)
			} else {
				w.Text(m.data)
			}
		}
		if err := w.End(); err != nil {
			t.Error(err)
		}
		// Wait for the client's close.
		_, _, _ = ws.Read(context.Background())
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, m := range want {
		typ, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != m.typ || !bytes.Equal(data, m.data) {
			t.Fatalf("message %d: got %v %d bytes, want %v %d bytes", i, typ, len(data), m.typ, len(m.data))
		}
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
}

func TestWaitThenReadAndNoMessageAfterClose(t *testing.T) {
	got := make(chan string, 1)
	checked := make(chan struct{})
	c := pair(t, func(ws *websocket.Conn, l *Link) {
		if l.Buffered() {
			t.Error("buffered before the client sent anything")
		}
		close(checked) // the client writes only now
		l.Wait()
		_, data, err := ws.Read(context.Background())
		if err != nil {
			t.Error(err)
			return
		}
		got <- string(data)
		l.Gate().Lock()
		_ = ws.Close(websocket.StatusGoingAway, "bye")
		l.Gate().Unlock()
		if err := l.Writer().Begin(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Begin after close: %v, want net.ErrClosed", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	<-checked
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "hello" {
		t.Fatalf("server read %q", s)
	}
	_, _, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("client read: %v, want close 1001", err)
	}
}

func TestRenewalAtMostOncePerPeriod(t *testing.T) {
	var r Renewal
	if !r.Due() {
		t.Fatal("a new reader is not due")
	}
	if r.Due() {
		t.Fatal("due again at once")
	}
	r.last = r.last.Add(-renewAfter)
	if !r.Due() {
		t.Fatal("not due after the period")
	}
}

// TestEarlyMessagesWithTheHandshake: messages a client pipelines in the
// same write as its upgrade request are seen by Buffered and read in
// order, without waiting for more bytes from the socket.
func TestEarlyMessagesWithTheHandshake(t *testing.T) {
	got := make(chan string, 2)
	addr := serve(t, func(ws *websocket.Conn, l *Link) {
		for range 2 {
			if !l.Buffered() {
				t.Error("a pipelined message is not seen as buffered")
				return
			}
			_, data, err := ws.Read(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			got <- string(data)
		}
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := []byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	out = appendMaskedFrame(out, opText, []byte("first"))
	out = appendMaskedFrame(out, opText, []byte("second"))
	if _, err := conn.Write(out); err != nil { // one write: the server reads it all at once
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Second)
	for _, want := range []string{"first", "second"} {
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("server read %q, want %q", s, want)
			}
		case <-timeout:
			t.Fatalf("server never read %q", want)
		}
	}
}

// TestWaitReadsAheadAcrossMessages: what Wait reads ahead in one read(2)
// (several small messages, the start of one larger than its buffer) is
// handed to coder/websocket whole and in order, and the read-ahead buffer
// goes back once it is read; a peer that goes away after a Wait ends the
// next read with its close, not a hang.
func TestWaitReadsAheadAcrossMessages(t *testing.T) {
	big := bytes.Repeat([]byte("b"), 3*aheadSize+17)
	want := [][]byte{[]byte("one"), []byte("two"), big, []byte("three")}
	got := make(chan []byte, len(want))
	ended := make(chan error, 1)
	c := pair(t, func(ws *websocket.Conn, l *Link) {
		if l.in.raw == nil {
			t.Error("a TCP connection has no raw conn: Wait falls back to one-byte reads")
		}
		for {
			if !l.Buffered() {
				l.Wait()
			}
			_, data, err := ws.Read(context.Background())
			if err != nil {
				ended <- err
				return
			}
			got <- data
			if l.in.ahead != nil && !l.in.hasEarly() {
				t.Error("the read-ahead buffer is kept after it was read")
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Written back to back: the server's first Wait usually finds more
	// than one message in the socket.
	for _, m := range want {
		if err := c.Write(ctx, websocket.MessageText, m); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range want {
		select {
		case data := <-got:
			if !bytes.Equal(data, m) {
				t.Fatalf("message %d: got %d bytes, want %d", i, len(data), len(m))
			}
		case <-ctx.Done():
			t.Fatalf("message %d never read", i)
		}
	}
	_ = c.Close(websocket.StatusNormalClosure, "done")
	select {
	case err := <-ended:
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Fatalf("server read after the client closed: %v, want close 1000", err)
		}
	case <-ctx.Done():
		t.Fatal("the server's reader hung after the client closed")
	}
}

// TestHoldHeaderSendsTheGreetingWithThe101: under HoldHeader the 101 waits
// for the server's first message and leaves with it, so the client reads
// both from one segment even when the server greets a while after the
// upgrade; the connection then works as any other.
func TestHoldHeaderSendsTheGreetingWithThe101(t *testing.T) {
	greeting := []byte(`{"type":"welcome"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &Response{ResponseWriter: w, Timeout: 5 * time.Second, HoldHeader: true}
		ws, err := websocket.Accept(hw, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer ws.CloseNow()
		// Without HoldHeader the 101 would be on its way by now.
		time.Sleep(50 * time.Millisecond)
		out := hw.Link.Writer()
		if err := out.Begin(); err != nil {
			t.Error(err)
			return
		}
		out.Text(greeting)
		if err := out.End(); err != nil {
			t.Error(err)
			return
		}
		_, data, err := ws.Read(context.Background())
		if err != nil {
			t.Error(err)
			return
		}
		_ = out.Begin()
		out.Text(data) // echo
		_ = out.End()
		_, _, _ = ws.Read(context.Background()) // until the client closes
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "ws://"+srv.Listener.Addr().String(), ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// Dial returned after reading the 101: the greeting came with it.
	if !c.Buffered() {
		t.Fatal("the greeting was not in the read that brought the 101")
	}
	if _, data, err := c.Read(ctx); err != nil || !bytes.Equal(data, greeting) {
		t.Fatalf("greeting: %q, %v", data, err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := c.Read(ctx); err != nil || string(data) != "ping" {
		t.Fatalf("echo: %q, %v", data, err)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
}

// TestWaitKeepsAReset: a peer that resets the connection while the reader
// is parked is reported as a reset, as net.Conn reports it, not as a
// clean end (the kernel tells a reset once, to the read that meets it).
func TestWaitKeepsAReset(t *testing.T) {
	ended := make(chan error, 1)
	parked := make(chan struct{})
	addr := serve(t, func(ws *websocket.Conn, l *Link) {
		close(parked)
		l.Wait()
		_, _, err := ws.Read(context.Background())
		ended <- err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "ws://"+addr, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-parked
	time.Sleep(50 * time.Millisecond) // let the server reach its wait
	tcp, ok := c.in.Conn.(*net.TCPConn)
	if !ok {
		t.Fatalf("client conn is %T", c.in.Conn)
	}
	if err := tcp.SetLinger(0); err != nil { // close sends a reset
		t.Fatal(err)
	}
	_ = c.CloseNow()
	select {
	case err := <-ended:
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("server read after a reset: %v, want ECONNRESET", err)
		}
	case <-ctx.Done():
		t.Fatal("the parked reader never saw the reset")
	}
}

// TestLinkWaitDropsALonePong: a pong that comes alone (a client's answer
// to the heartbeat's Writer.Ping) is read where the reader parks, counted
// in Reads, and dropped, and the reader waits on: Wait returns only for
// the message after it. A pong that comes with a message in one read is
// dropped as well, and Wait returns for the message.
func TestLinkWaitDropsALonePong(t *testing.T) {
	links := make(chan *Link, 1)
	type woke struct {
		reads uint32 // when Wait returned
		msg   string
		err   error
	}
	got := make(chan woke, 2)
	addr := serve(t, func(ws *websocket.Conn, l *Link) {
		links <- l
		for range 2 {
			l.Wait()
			w := woke{reads: l.Reads()}
			_, data, err := ws.Read(context.Background())
			w.msg, w.err = string(data), err
			got <- w
			if err != nil {
				return
			}
		}
		_, _, _ = ws.Read(context.Background()) // until the client closes
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "ws://"+addr, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	l := <-links

	if err := c.writeFrame(ctx, opPong, []byte("hb")); err != nil {
		t.Fatal(err)
	}
	var pongRead uint32
	testenv.Eventually(t, "the pong to be read", 5*time.Second, func() bool {
		pongRead = l.Reads()
		return pongRead > 0
	})
	if err := c.Write(ctx, websocket.MessageText, []byte("after the pong")); err != nil {
		t.Fatal(err)
	}
	if w := <-got; w.err != nil || w.msg != "after the pong" || w.reads == pongRead {
		t.Fatalf("Wait returned after %d reads (the pong's: %d), then read %q, %v; want it to return for the message only", w.reads, pongRead, w.msg, w.err)
	}

	both := appendMaskedFrame(appendMaskedFrame(nil, opPong, []byte("hb")), opText, []byte("with a pong"))
	if _, err := c.in.Conn.Write(both); err != nil {
		t.Fatal(err)
	}
	if w := <-got; w.err != nil || w.msg != "with a pong" {
		t.Fatalf("read %q, %v; want the message that came with a pong", w.msg, w.err)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
}
