package eio

import (
	"bytes"
	"io"
	"net"
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
