package wsconn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// deadlineConn counts the write deadlines set on a net.Pipe end.
type deadlineConn struct {
	net.Conn
	set int
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.set++
	return c.Conn.SetWriteDeadline(t)
}

func TestWriterMovesDeadlineOnlyWhenLessThanTheTimeoutIsLeft(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { // a reader that keeps up
		buf := make([]byte, 1024)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	const timeout = 200 * time.Millisecond
	c := &deadlineConn{Conn: a}
	w := &Writer{conn: c, timeout: timeout}
	write := func() {
		t.Helper()
		if err := w.Begin(); err != nil {
			t.Fatal(err)
		}
		w.Text([]byte("hello"))
		if err := w.End(); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 {
		write()
	}
	if c.set != 1 {
		t.Fatalf("50 writes at once set the deadline %d times, want 1", c.set)
	}
	time.Sleep(timeout/2 + 20*time.Millisecond) // less than the timeout left
	write()
	if c.set != 2 {
		t.Fatalf("a write with less than the timeout left set the deadline %d times in all, want 2", c.set)
	}
}

func TestWriterWriteToStuckPeerEndsWithinTimeout(t *testing.T) {
	a, b := net.Pipe() // b never reads
	defer a.Close()
	defer b.Close()
	const timeout = 200 * time.Millisecond
	w := &Writer{conn: a, timeout: timeout}
	start := time.Now()
	var err error
	for i := 0; err == nil && i < 3; i++ {
		if err = w.Begin(); err == nil {
			w.Text([]byte("stuck"))
			err = w.End()
		}
		time.Sleep(timeout / 3) // later writes reuse the deadline of the first
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a peer that never reads: %v, want a deadline error", err)
	}
	if took := time.Since(start); took < timeout || took > 2*timeout+time.Second {
		t.Fatalf("the stuck write ended after %v, want between %v and %v", took, timeout, timeout+timeout/2)
	}
}

// shortConn takes at most limit bytes per Write, failing past them, and
// keeps what it took.
type shortConn struct {
	net.Conn
	limit int
	got   []byte
}

var errShort = errors.New("short write")

func (c *shortConn) Write(p []byte) (int, error) {
	n := min(len(p), c.limit)
	c.got = append(c.got, p[:n]...)
	if n < len(p) {
		return n, errShort
	}
	return n, nil
}

func (c *shortConn) SetWriteDeadline(time.Time) error { return nil }

// TestWriterHeldHeader: a held 101 goes out ahead of the first write, and
// when a write takes only part of it the rest goes first the next time;
// WriteOwed sends it alone and only once.
func TestWriterHeldHeader(t *testing.T) {
	c := &shortConn{limit: 3}
	head := []byte("HEAD")
	w := &Writer{conn: c, timeout: time.Second, head: &head}
	if n, err := w.Write([]byte("ab")); n != 0 || !errors.Is(err, errShort) {
		t.Fatalf("first write: %d, %v; want 0 and the short write", n, err)
	}
	c.limit = 100
	if n, err := w.Write([]byte("cd")); n != 2 || err != nil {
		t.Fatalf("second write: %d, %v; want 2, nil", n, err)
	}
	if got := string(c.got); got != "HEAD"+"cd" {
		t.Fatalf("wire got %q, want the whole header, then the second write", got)
	}

	c2 := &shortConn{limit: 100}
	head2 := []byte("HEAD")
	w2 := &Writer{conn: c2, timeout: time.Second, head: &head2}
	if err := w2.WriteOwed(); err != nil {
		t.Fatal(err)
	}
	if err := w2.WriteOwed(); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := string(c2.got); got != "HEADx" {
		t.Fatalf("wire got %q, want the header once, then the write", got)
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// EndNoWait never waits on a peer that does not read: what the socket
// does not take stays owed, goes out ahead of any later frame (the
// library's own included), and the peer reads every frame whole and in
// order.
func TestWriterEndNoWaitLeavesTheRestOwed(t *testing.T) {
	peer, conn := tcpPair(t)
	w := &Writer{conn: conn, raw: rawOf(conn), timeout: 5 * time.Second}
	payload := bytes.Repeat([]byte("x"), 8<<10)
	sent, owed := 0, false
	for !owed && sent < 10_000 { // the socket buffers are a few MB at most
		if err := w.Begin(); err != nil {
			t.Fatal(err)
		}
		w.Text(fmt.Appendf(nil, "%06d", sent))
		w.Text(payload)
		sent++
		var err error
		start := time.Now()
		if owed, err = w.EndNoWait(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("EndNoWait waited %v", d)
		}
	}
	if !owed {
		t.Fatalf("%d batches and the socket took them all", sent)
	}
	done := make(chan error, 1)
	go func() {
		// A control frame, as coder/websocket writes them, then the owed
		// rest; both wait for the peer.
		if _, err := w.Write([]byte{0x80 | opPong, 0}); err != nil {
			done <- err
			return
		}
		done <- w.WriteOwed()
	}()
	_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(peer)
	for i := range sent {
		for _, want := range [][]byte{fmt.Appendf(nil, "%06d", i), payload} {
			h, err := parseFrameHeader(br)
			if err != nil || h.op != opText || h.length != uint64(len(want)) {
				t.Fatalf("frame %d: %+v, %v", i, h, err)
			}
			got := make([]byte, h.length)
			if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("frame %d: %.20q, %v", i, got, err)
			}
		}
	}
	if h, err := parseFrameHeader(br); err != nil || h.op != opPong {
		t.Fatalf("after the owed batches: %+v, %v; want the pong", h, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// CloseNoWait gives up on a writer a batch holds; CloseAfterWrite waits
// for the batch, and its close frame follows it.
func TestWriterCloseAfterWriteWaitsForTheBatch(t *testing.T) {
	peer, conn := tcpPair(t)
	w := &Writer{conn: conn, raw: rawOf(conn), timeout: 5 * time.Second}
	if err := w.Begin(); err != nil {
		t.Fatal(err)
	}
	w.Text([]byte("last"))
	if w.CloseNoWait(1001, "ping_timeout") {
		t.Fatal("CloseNoWait wrote a close frame into an open batch")
	}
	closed := make(chan bool, 1)
	go func() { closed <- w.CloseAfterWrite(1001, "ping_timeout") }()
	select {
	case <-closed:
		t.Fatal("CloseAfterWrite went ahead of the open batch")
	case <-time.After(50 * time.Millisecond):
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	if !<-closed {
		t.Fatal("CloseAfterWrite did not write its close frame")
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(peer)
	for _, want := range []struct {
		op      byte
		payload string
	}{{opText, "last"}, {opClose, "\x03\xe9ping_timeout"}} {
		h, err := parseFrameHeader(br)
		if err != nil || h.op != want.op {
			t.Fatalf("frame %+v, %v; want op %#x", h, err, want.op)
		}
		got := make([]byte, h.length)
		if _, err := io.ReadFull(br, got); err != nil || string(got) != want.payload {
			t.Fatalf("frame payload %q, %v; want %q", got, err, want.payload)
		}
	}
	if err := w.Begin(); err == nil {
		w.release()
		t.Fatal("a batch began after the close frame")
	}
}
