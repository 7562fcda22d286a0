package eio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
)

// bulky answers every message with one of size bytes that starts with the
// request's data and a colon, as a service answers small requests with
// large results.
type bulky struct {
	echo
	pad []byte
}

func (h *bulky) OnMessage(c *Conn, data []byte, _ bool) {
	answer := append(append(data, ':'), h.pad[:len(h.pad)-len(data)-1]...)
	_ = c.SendText(answer)
}

// smallSendBuffer fixes the kernel send buffer of every accepted
// connection at a few KiB, so that what the writer has written is what
// the client has read, give or take the client's receive buffer.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// startBulky runs a bulky server of size-byte answers whose queue holds
// queue packets (the bytes bound out of the way), whose readers wait for
// a writer that writes nothing for wait, behind smallSendBuffer.
func startBulky(t *testing.T, queue, size int, wait time.Duration) *testServer {
	t.Helper()
	h := &bulky{echo: echo{closed: make(chan error, 8)}, pad: bytes.Repeat([]byte("x"), size)}
	srv, err := NewServer(Config{
		PingInterval: time.Minute, QueuePackets: queue, QueueBytes: 4 * queue * size,
		DrainPeriod: 50 * time.Millisecond, collectWait: wait,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	hs := httptest.NewUnstartedServer(mux)
	hs.Listener = smallSendBuffer{hs.Listener}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &testServer{srv: srv, url: hs.URL + "/engine.io/", h: &h.echo, http: hs}
}

// dialWebSocket opens a session over WebSocket, with the client's kernel
// receive buffer fixed at rcvbuf bytes when rcvbuf > 0, and returns it
// with the server's Conn.
func dialWebSocket(t *testing.T, ts *testServer, rcvbuf int) (*websocket.Conn, *Conn) {
	t.Helper()
	d := &net.Dialer{}
	if rcvbuf > 0 {
		// Set before connect, so that the window is sized by it.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	ctx := testenv.Context(t, 5*time.Second)
	ws, _, err := websocket.Dial(ctx, ts.wsURL("EIO=4&transport=websocket"), &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	_, open := read(t, ws)
	var hs struct{ SID string }
	if len(open) == 0 || open[0] != '0' || json.Unmarshal([]byte(open[1:]), &hs) != nil {
		t.Fatalf("open packet %q", open)
	}
	c := ts.srv.lookup(hs.SID)
	if c == nil {
		t.Fatalf("no session %s", hs.SID)
	}
	return ws, c
}

// TestWebSocketSlowSteadyReaderIsNotASlowConsumer: a client that writes
// many requests at once and then reads their answers slowly but steadily
// (a loaded machine; here a frame every 4 ms, through small buffers)
// gets every answer and stays open. Writing half a queue of answers
// (2 MiB) takes its writer about twice the reader's wait for a writer
// that writes nothing (250 ms here, 1 s in production), but it writes
// all along: the reader keeps waiting rather than read on and overflow
// the queue. (The wait stays well above the pauses of TCP on a loaded
// loopback, which hold one 64 KiB write up to about 100 ms.)
func TestWebSocketSlowSteadyReaderIsNotASlowConsumer(t *testing.T) {
	// Half a queue: 128 answers, 512 ms to read; 64 KiB, wsconn's gather
	// limit, in 16 ms; 450 answers, more than the reader could queue past
	// half a queue.
	readSteadily(t, 256, 450, 64<<10, 4*time.Millisecond, 250*time.Millisecond)
}

// readSteadily has a client write n requests at once to a server with a
// queue of queue answers of 16 KiB, whose reader waits wait for a writer
// that writes nothing, then read their answers one every pace through a
// receive buffer of rcvBuf bytes: it must get every answer, in order, and
// the server count no slow consumer.
func readSteadily(t *testing.T, queue, n, rcvBuf int, pace, wait time.Duration) {
	t.Helper()
	const size = 16 << 10
	ts := startBulky(t, queue, size, wait)
	ws, c := dialWebSocket(t, ts, rcvBuf)
	ctx := testenv.Context(t, 30*time.Second)
	for i := range n {
		if err := ws.Write(ctx, websocket.MessageText, []byte("4"+strconv.Itoa(i))); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	for i := range n {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("after %d of %d answers: %v (session: %v, stats %+v)", i, n, err, c.Err(), ts.srv.Stats())
		}
		if want := "4" + strconv.Itoa(i) + ":"; len(b) != size+1 || !bytes.HasPrefix(b, []byte(want)) {
			t.Fatalf("answer %d: %.20q (%d bytes), want %q... (%d bytes)", i, b, len(b), want, size+1)
		}
		time.Sleep(pace) // a client that reads slowly, but reads
	}
	if err := c.Err(); err != nil {
		t.Fatalf("session closed: %v", err)
	}
	if s := ts.srv.Stats().SlowConsumers; s != 0 {
		t.Fatalf("%d slow consumers", s)
	}
}

// TestWebSocketPipeliningClientThatDoesNotReadIsClosed: a client that
// writes many requests and reads nothing is still closed as a slow
// consumer: once its buffers are full the writer writes nothing, the
// reader waits for it only a while, then reads on until the queue
// overflows.
func TestWebSocketPipeliningClientThatDoesNotReadIsClosed(t *testing.T) {
	const queue, size, n = 256, 16 << 10, 2000
	ts := startBulky(t, queue, size, 250*time.Millisecond)
	ws, c := dialWebSocket(t, ts, 0) // a default receive buffer: see TestLegacyPipeliningClientThatDoesNotRead
	ctx := testenv.Context(t, 30*time.Second)
	written := make(chan error, 1)
	go func() {
		for i := range n {
			if err := ws.Write(ctx, websocket.MessageText, []byte("4"+strconv.Itoa(i))); err != nil {
				written <- fmt.Errorf("request %d: %w", i, err)
				return
			}
		}
		written <- nil
	}()
	if err := ts.closeReason(t); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("close reason %v, want ErrSlowConsumer", err)
	}
	if s := ts.srv.Stats().SlowConsumers; s != 1 {
		t.Fatalf("%d slow consumers, want 1", s)
	}
	if err := c.Err(); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("session error %v", err)
	}
	_ = ws.CloseNow()
	<-written
}

// TestWebSocketSlowSteadyReaderOfLongBatchesIsNotASlowConsumer: as
// TestWebSocketSlowSteadyReaderIsNotASlowConsumer, with a client that
// reads more slowly than one of the writer's batches (64 KiB) per wait
// for a writer that writes nothing (here 100 KiB/s against 64 KiB per
// 250 ms; in production, with a wait of a second, a client on a slow
// link reading under 64 KiB/s). Each write(2) of the batch takes some of
// it all along, so the writer writes: the reader keeps waiting.
func TestWebSocketSlowSteadyReaderOfLongBatchesIsNotASlowConsumer(t *testing.T) {
	// Half a queue: 4 answers, one batch of 64 KiB, read in 1.2 s; 30
	// answers, more than the reader could queue past half a queue and
	// the answers' slack. The
	// production wait: a write(2) every 300 ms or so keeps the reader
	// waiting, with room for a loaded machine's scheduling.
	readSteadily(t, 8, 30, 16<<10, 300*time.Millisecond, time.Second)
}
