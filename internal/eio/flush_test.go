package eio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/engineio"
)

// frameOf returns a pooled frame buffer holding s (see FrameBuffer).
func frameOf(s string) *[]byte {
	b := FrameBuffer()
	*b = append((*b)[:0], s...)
	return b
}

// idleWebSocketSession opens a WebSocket session, reads its open packet
// and waits until its writer has gone idle.
func idleWebSocketSession(t *testing.T) (*websocket.Conn, *Conn) {
	t.Helper()
	ts := startServer(t, Config{PingInterval: time.Minute})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws) // open
	c := sessionOf(t, ts)
	testenv.Eventually(t, "the writer to go idle", 5*time.Second, func() bool {
		w, _ := writerState(c)
		return !w
	})
	return ws, c
}

// writerState reports whether c's writer runs and how many groups wait.
func writerState(c *Conn) (writing bool, queued int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writing, len(c.queue)
}

// TestFlushWritesHeldSendsOnTheCaller checks that held sends start no
// writer, and that Flush writes them, in order, on the calling goroutine.
func TestFlushWritesHeldSendsOnTheCaller(t *testing.T) {
	ws, c := idleWebSocketSession(t)
	if err := c.SendFrameHeld(frameOf("4a")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendHeld(engineio.Packet{Type: engineio.Message, Data: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := c.OfferFrameHeld(frameOf("4c")); err != nil {
		t.Fatal(err)
	}
	if w, n := writerState(c); w || n != 3 {
		t.Fatalf("after three held sends: writing %v, %d queued; want no writer, 3", w, n)
	}
	c.Flush()
	if w, n := writerState(c); w || n != 0 {
		t.Fatalf("after Flush: writing %v, %d queued; want no writer, 0", w, n)
	}
	for _, want := range []string{"4a", "4b", "4c"} {
		if _, got := read(t, ws); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	for _, bad := range []func(*[]byte) error{c.SendFrameHeld, c.OfferFrameHeld} {
		if err := bad(frameOf("2ping")); !errors.Is(err, ErrInvalidFrame) {
			t.Errorf("a held ping frame: %v, want ErrInvalidFrame", err)
		}
	}
}

// TestFlushLeavesWhatTheSocketRefusesToTheWriter fills the socket of a
// client that does not read until a Flush cannot write all it has: the
// rest goes to the writer, which writes it with nothing queued after it,
// and the client, once it reads, gets every frame once and in order.
func TestFlushLeavesWhatTheSocketRefusesToTheWriter(t *testing.T) {
	const frames, size = 1000, 8 << 10 // 8 MB: past loopback's socket buffers
	ts := startServer(t, Config{PingInterval: time.Minute, QueuePackets: 2 * frames, QueueBytes: 4 * frames * size})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	ws.SetReadLimit(2 * size)
	read(t, ws) // open
	c := sessionOf(t, ts)
	pad := strings.Repeat("x", size)
	sent := 0
	for sent < frames {
		if err := c.SendFrameHeld(frameOf(fmt.Sprintf("4%06d%s", sent, pad))); err != nil {
			t.Fatalf("frame %d: %v", sent, err)
		}
		sent++
		c.Flush()
		if w, _ := writerState(c); w {
			break // the socket is full: the writer has the rest
		}
	}
	if sent == frames {
		t.Fatal("the socket took 8 MB without the client reading: no writer was needed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range sent {
		_, got, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read frame %d: %v", i, err)
		}
		if want := fmt.Sprintf("4%06d", i); len(got) != 7+size || string(got[:7]) != want {
			t.Fatalf("frame %d: %.12q (%d bytes), want %s…", i, got, len(got), want)
		}
	}
	testenv.Eventually(t, "the writer to finish", 5*time.Second, func() bool {
		w, n := writerState(c)
		return !w && n == 0
	})
}

// TestHeldSendOnPolling checks that on long-polling a held send needs no
// Flush: the poll takes the queue.
func TestHeldSendOnPolling(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	if err := ts.srv.lookup(sid).SendFrameHeld(frameOf("4held")); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := do(t, "GET", ts.pollURL(sid), ""); code != 200 || body != "4held" {
		t.Fatalf("poll: %d %q", code, body)
	}
}

// TestHeldPooledFramesAllocateNothing: a frame built in a FrameBuffer,
// held and flushed over WebSocket, costs no allocation: its buffer goes
// back to the pool once written. Without the race detector only: it
// drops pooled items on purpose.
func TestHeldPooledFramesAllocateNothing(t *testing.T) {
	if testenv.Race {
		t.Skip("sync.Pool drops items under the race detector")
	}
	const runs = 100
	ws, c := idleWebSocketSession(t)
	send := func() {
		b := FrameBuffer()
		*b = append((*b)[:0], "4relayed"...)
		if err := c.SendFrameHeld(b); err != nil {
			t.Fatal(err)
		}
		c.Flush()
	}
	if n := testing.AllocsPerRun(runs, send); n != 0 {
		t.Errorf("%v allocations per frame, want 0", n)
	}
	for i := range runs + 1 { // AllocsPerRun's warm-up call sent one more
		if _, got := read(t, ws); got != "4relayed" {
			t.Fatalf("frame %d: %q", i, got)
		}
	}
}
