package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestResumeReplayLongerThanQueue: a client that resumes a channel with
// since, far enough back that the backend replays more messages than the
// client's outbound queue holds, gets them all, in order, and stays
// connected, as it does on the reference services, which hand a replay
// over as the client reads it: the session's backend reader waits for the
// client (session.Pacer). On both backends: both reference services ack
// a subscribe before they replay (for a backend that does not, see
// TestReplayBeforeAckLongerThanQueue).
func TestResumeReplayLongerThanQueue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		weight router.Weight
		sio    bool
	}{
		{"legacy-client", 0, false}, {"sio-client", 0, true},
		{"legacy-client-green", 100, false}, {"sio-client-green", 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			e := setup(t, tc.weight)
			f := startFront(t, e, edge.Options{})
			const n = 1500 // more than edge.outbound_queue.messages (1024)
			for i := range n {
				if _, err := e.b.Publish(ctx, "r", fmt.Appendf(nil, `{"i":%d}`, i)); err != nil {
					t.Fatal(err)
				}
			}
			var c *edgeClient
			if tc.sio {
				c = f.dialSIO(t, ctx, "resumer")
			} else {
				c = f.dialLegacy(t, ctx, "resumer")
			}
			since := uint64(0)
			var err error
			if c.legacy != nil {
				_, err = c.legacy.Subscribe(ctx, "r", &since)
			} else {
				err = c.sock.Subscribe(ctx, "r", &since)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !testenv.Poll(10*time.Second, func() bool { return len(c.rec.get("r")) >= n || isDone(c.done()) }) || isDone(c.done()) {
				t.Fatalf("got %d of %d replayed messages; connection ended %v", len(c.rec.get("r")), n, isDone(c.done()))
			}
			for i, seq := range c.rec.get("r") {
				if seq != uint64(i+1) {
					t.Fatalf("message %d has seq %d", i, seq)
				}
			}
		})
	}
}

// TestReplayBeforeAckLongerThanQueue: a Socket.IO backend that sends a
// subscribe's history before it acks it (emit each message, then the
// ack: a natural way to write a "join with history" handler), with more
// history than the client's queue holds. The messages held for the ack
// outgrow the bound; the client still gets every one, in order, as it
// would talking to that backend directly, ahead of the ack, instead of
// being closed as a slow consumer.
func TestReplayBeforeAckLongerThanQueue(t *testing.T) {
	checkReplayBeforeAck(t, 3000, "") // more than edge.outbound_queue.messages (1024)
}

// TestReplayBeforeAckLargerThanQueueBytes: the same with messages large
// enough that the queue's byte bound (the default 4 MiB of
// edge.outbound_queue.bytes), not its count, is what the history
// outgrows: half the queue's count of them is more bytes than the whole
// queue holds.
func TestReplayBeforeAckLargerThanQueueBytes(t *testing.T) {
	// Fewer than edge.outbound_queue.messages (1024), and far more bytes
	// than edge.outbound_queue.bytes.
	checkReplayBeforeAck(t, 1000, strings.Repeat("x", 12<<10))
}

// checkReplayBeforeAck subscribes a legacy and a Socket.IO client, through
// the gateway, to a backend that sends n messages (each padded with pad)
// before the subscribe's ack, and checks that each client gets them all,
// in order.
func checkReplayBeforeAck(t *testing.T, n int, pad string) {
	t.Helper()
	_, url := backendtest.HistoryBeforeAck(t, eio.Config{QueuePackets: 2 * n, QueueBytes: 2 * n * (len(pad) + 256)}, n, func(i int) string {
		return fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad)
	})
	historyFirst := func(upstream.Dialer) upstream.Dialer {
		return &upstream.SocketIODialer{Options: upstream.Options{URL: url}}
	}
	for _, sioClient := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy-client", true: "sio-client"}[sioClient], func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			e := setupWrapped(t, router.Full, nil, historyFirst)
			f := startFront(t, e, edge.Options{})
			var c *edgeClient
			if sioClient {
				c = f.dialSIO(t, ctx, "joiner")
			} else {
				c = f.dialLegacy(t, ctx, "joiner")
			}
			since := uint64(0)
			var err error
			if c.legacy != nil {
				_, err = c.legacy.Subscribe(ctx, "room", &since)
			} else {
				err = c.sock.Subscribe(ctx, "room", &since)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !testenv.Poll(10*time.Second, func() bool { return len(c.rec.get("room")) >= n || isDone(c.done()) }) || isDone(c.done()) {
				t.Fatalf("got %d of %d messages sent before the ack; connection ended %v", len(c.rec.get("room")), n, isDone(c.done()))
			}
			for i, seq := range c.rec.get("room") {
				if seq != uint64(i+1) {
					t.Fatalf("message %d has seq %d", i, seq)
				}
			}
		})
	}
}
