package edge_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestLegacySlowSteadyReaderIsNotASlowConsumer: a legacy client that
// writes many publishes of 16 KiB on a channel it is subscribed to, and
// reads their acks and messages slowly but steadily (a loaded machine;
// here a frame every 2 ms, through small buffers), gets them all and
// stays open. Writing half a queue (2 MiB) to it takes the edge's writer
// about twice the reader's wait for a writer that writes nothing (250 ms
// here, 1 s in production), but the writer writes all along: the reader
// keeps waiting rather than read on and overflow the queue. (The wait
// stays well above the pauses of TCP on a loaded loopback, which hold one
// 64 KiB write up to about 100 ms.)
func TestLegacySlowSteadyReaderIsNotASlowConsumer(t *testing.T) {
	steadyReader(t, steadyCase{
		n:          450, // more than the reader could queue past half a queue
		pace:       2 * time.Millisecond,
		queueBytes: 4 << 20,
		rcvBuf:     64 << 10,
		wait:       250 * time.Millisecond,
	})
}

// TestLegacySlowSteadyReaderOfLongBatchesIsNotASlowConsumer: as
// TestLegacySlowSteadyReaderIsNotASlowConsumer, with a client that reads
// more slowly than one of the writer's batches (64 KiB) per wait for a
// writer that writes nothing (here about 130 KiB/s against 64 KiB per
// 250 ms; in production, with a wait of a second, a client on a slow link
// reading under 64 KiB/s). Each write(2) of the batch takes some of it
// all along, so the writer writes: the reader keeps waiting.
func TestLegacySlowSteadyReaderOfLongBatchesIsNotASlowConsumer(t *testing.T) {
	steadyReader(t, steadyCase{
		n:          20,                     // more than the reader could queue past half a queue
		pace:       150 * time.Millisecond, // 16 KiB (and an ack) per 300 ms: a batch in 1.2 s
		queueBytes: 128 << 10,              // half: 4 messages, one batch
		rcvBuf:     16 << 10,
		// The production wait: a write(2) every 300 ms or so keeps the
		// reader waiting, with room for a loaded machine's scheduling.
		wait: time.Second,
	})
}

// steadyCase is a client of steadyReader: it publishes n messages of
// 16 KiB (64 KiB, wsconn's gather limit, is 4 of them) on a channel it is
// subscribed to, all at once, and reads one frame every pace through a
// receive buffer of rcvBuf bytes, from an edge with an outbound queue of
// queueBytes whose reader waits wait for a writer that writes nothing.
type steadyCase struct {
	n                  int
	pace, wait         time.Duration
	queueBytes, rcvBuf int
}

// steadyReader runs sc: the client must get every ack and message, in
// order, and the edge count no slow consumer.
func steadyReader(t *testing.T, sc steadyCase) {
	t.Helper()
	const size = 16 << 10
	opts := edge.WithWriterWait(edge.Options{
		Edge: config.Edge{
			OutboundQueue: config.Queue{Messages: 1024, Bytes: sc.queueBytes},
			PingInterval:  10 * time.Minute,
			PingTimeout:   time.Minute,
		},
		DrainPeriod:  time.Millisecond,
		WriteTimeout: time.Minute,
	}, sc.wait)
	ed, _, addr := startEdgeWith(t, opts, func(ln net.Listener) net.Listener { return tinySendBuffers{ln} })
	ctx := testenv.Context(t, 60*time.Second)
	// Set before connect, so that the window is sized by it.
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, sc.rcvBuf)
		})
	}}
	c := dialPubSubWith(ctx, t, &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}, addr, "steady", false)
	c.subscribe(ctx, t, "p")
	data := []byte(`"` + strings.Repeat("a", size) + `"`)
	frames := make([]string, sc.n)
	first := c.lastID + 1
	for i := range frames {
		_, frames[i] = c.encodeRequest("publish", "p", data)
	}
	got := make(chan error, 1)
	go func() { // at once: a client that reads nothing for the wait is not reading
		next := first  // the id of the next ack
		var seq uint64 // of the last message
		for next < first+uint64(sc.n) || seq < uint64(sc.n) {
			r, err := c.next(ctx)
			switch {
			case err != nil:
				got <- fmt.Errorf("after %d acks and %d messages: %w (stats %+v)", next-first, seq, err, ed.Stats())
				return
			case r.message && r.seq == seq+1:
				seq++
			case r.ack && r.id == next:
				next++
			default:
				got <- fmt.Errorf("got %+v after ack %d and message %d", r, next-first, seq)
				return
			}
			time.Sleep(sc.pace) // a client that reads slowly, but reads
		}
		got <- nil
	}()
	for i, f := range frames {
		if err := c.ws.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatalf("request %d: %v; reading: %v", i, err, <-got) // the reader ends with the connection
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if st := ed.Stats(); st.SlowConsumers != 0 {
		t.Errorf("stats %+v: want no slow consumer", st)
	}
}

// tinySendBuffers fixes its connections' send buffers at 4 KiB: what the
// writer has written is then what the client has read, but for the
// client's receive buffer.
type tinySendBuffers struct{ net.Listener }

func (l tinySendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}
