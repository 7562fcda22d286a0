package edge_test

import (
	"net"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestUnsubscribeEndsReplay: a client that resumes a channel with since
// and unsubscribes from it while the replay is still coming no longer
// counts as replaying, so that its backend reader is not paced to it
// (live traffic stays under edge.overflow): the rest of the replay never
// reaches the client, and nothing else would end it.
func TestUnsubscribeEndsReplay(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			ed, g, addr := startEdgeWith(t, edge.Options{
				Edge: config.Edge{
					MaxMessageBytes: 64 << 10,
					OutboundQueue:   config.Queue{Messages: 4, Bytes: 64 << 10},
					Overflow:        "disconnect",
					PingInterval:    10 * time.Minute,
					PingTimeout:     time.Minute,
				},
				WriteTimeout: 10 * time.Minute,
				DrainPeriod:  time.Millisecond,
			}, func(ln net.Listener) net.Listener { return smallSendBuffers{ln} })
			ctx := testenv.Context(t, 30*time.Second)
			// A replay far longer than the few messages the queue and the
			// small socket buffers hold: the legacy backend (blue) sends it
			// after its ack, as the client takes it.
			const n = 60
			pub := &publisher{pubsubClient: dialPubSub(ctx, t, addr, "pub", p.socketIO)}
			pub.subscribe(ctx, t, "r")
			for range n {
				pub.publish(ctx, t, "r", payload())
			}

			c := dialPubSub(ctx, t, addr, "resumer", p.socketIO)
			c.lastID = 1
			if p.socketIO {
				c.write(ctx, t, `421["subscribe",{"channel":"r","since":0}]`)
			} else {
				c.write(ctx, t, `{"type":"subscribe","id":1,"channel":"r","since":0}`)
			}
			if r, err := c.next(ctx); err != nil || !r.ack || r.id != 1 || r.seq != n {
				t.Fatalf("subscribe answer %+v, %v; want an ack at seq %d", r, err, n)
			}
			if r, err := c.next(ctx); err != nil || !r.message || r.seq != 1 {
				t.Fatalf("first replayed %+v, %v", r, err)
			}
			var id string
			for _, s := range g.Sessions() {
				if s.User() == "resumer" {
					id = s.ID()
				}
			}
			if !edge.Replaying(ed, id) {
				t.Fatal("not replaying after the first of the replay's messages")
			}

			// Every message of the channel queued before the unsubscribe
			// took effect comes before its ack: the rest of the replay goes
			// nowhere.
			unsub := c.request(ctx, t, "unsubscribe", "r", nil)
			got := 1
			for {
				r, err := c.next(ctx)
				if err != nil {
					t.Fatalf("after %d replayed messages: %v", got, err)
				}
				if r.ack && r.id == unsub {
					break
				}
				got++
			}
			if got >= n {
				t.Fatalf("the whole replay (%d messages) came before the unsubscribe took effect", got)
			}
			if edge.Replaying(ed, id) {
				t.Fatalf("still replaying after the unsubscribe (%d of %d replayed messages read)", got, n)
			}
		})
	}
}
