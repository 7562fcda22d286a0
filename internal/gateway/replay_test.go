package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestResumeReplayLongerThanQueue: a client that resumes a channel with
// since, far enough back that the backend replays more messages than the
// client's outbound queue holds, gets them all, in order, and stays
// connected, as it does on the reference services, which hand a replay
// over as the client reads it: the session's backend reader waits for the
// client (session.Pacer). Only on the legacy backend (blue): the Socket.IO
// service's replay comes before the subscribe's ack, and the messages held
// for a pending subscribe are bounded by the queue (not fixed yet).
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
