package edge_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestDroppedReplayBeforeAckEnds: under drop_newest, a backend that sends
// a subscribe's history before its ack (see
// TestReplayBeforeAckLongerThanQueue), more of it at once than the
// client's queue holds, gets the messages past the bound dropped (the
// client sees the gap), its last one among them. The replay the ack
// announces is over all the same once the ack is queued: nothing more
// comes on a quiet channel, and a replay that never ended would pace the
// session's backend reader to the client for good, live traffic too
// (see TestUnsubscribeEndsReplay).
func TestDroppedReplayBeforeAckEnds(t *testing.T) {
	const n = 12 // far more than the queue's 4 messages, in one burst
	_, url := backendtest.HistoryBeforeAck(t, eio.Config{QueuePackets: 4 * n, QueueBytes: 1 << 20}, n, strconv.Itoa)
	historyFirst := func(upstream.Dialer) upstream.Dialer {
		return &upstream.SocketIODialer{Options: upstream.Options{URL: url}}
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			ed, g, addr := startEdgeDialing(t, edge.Options{
				Edge: config.Edge{
					MaxMessageBytes: 64 << 10,
					OutboundQueue:   config.Queue{Messages: 4, Bytes: 64 << 10},
					Overflow:        config.OverflowDropNewest,
					PingInterval:    10 * time.Minute,
					PingTimeout:     time.Minute,
				},
				WriteTimeout: 10 * time.Minute,
				DrainPeriod:  time.Millisecond,
			}, nil, historyFirst, func(ln net.Listener) net.Listener { return smallSendBuffers{ln} })
			ctx := testenv.Context(t, 30*time.Second)
			c := dialPubSub(ctx, t, addr, "joiner", p.socketIO)
			c.lastID = 1
			if p.socketIO {
				c.write(ctx, t, `421["subscribe",{"channel":"room","since":0}]`)
			} else {
				c.write(ctx, t, `{"type":"subscribe","id":1,"channel":"room","since":0}`)
			}
			// The ack comes first, then the messages held for it that fit:
			// read until each message is either received or dropped.
			var got []uint64
			acked := false
			for !acked || uint64(len(got))+ed.Stats().Dropped < n {
				r, err := c.next(ctx)
				if err != nil {
					t.Fatalf("after messages %v: %v", got, err)
				}
				switch {
				case r.ack && (acked || r.id != 1 || r.seq != n):
					t.Fatalf("subscribe answer %+v; want one ack at seq %d", r, n)
				case r.ack:
					acked = true
				default:
					got = append(got, r.seq)
				}
			}
			if ed.Stats().Dropped == 0 {
				t.Fatalf("nothing dropped (messages %v): the history did not come in one burst", got)
			}
			var id string
			for _, s := range g.Sessions() {
				if s.User() == "joiner" {
					id = s.ID()
				}
			}
			// Every message of the replay was queued or dropped: it is
			// over.
			if edge.Replaying(ed, id) {
				t.Fatalf("still replaying after the subscribe's ack at seq %d (got %v, %d dropped): the backend reader stays paced to the client", n, got, ed.Stats().Dropped)
			}
		})
	}
}
