package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestUnsubscribeHeldPastTimeoutSaysStillSubscribed: an unsubscribe that
// cannot take the session's operations within the request timeout (a
// move holds them longer) changes nothing: the session still holds the
// channel and delivers its messages. The client is told so, with an
// error it can retry, not acknowledged as if it had left; once the
// operations are free, the retry leaves the channel.
func TestUnsubscribeHeldPastTimeoutSaysStillSubscribed(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			_, g, addr := startEdgeWith(t, edge.Options{RequestTimeout: 200 * time.Millisecond, DrainPeriod: time.Millisecond})
			ctx := testenv.Context(t, 20*time.Second)
			c := dialPubSub(ctx, t, addr, "sub", p.socketIO)
			c.subscribe(ctx, t, "c")
			var s *session.Session
			for _, x := range g.Sessions() {
				if x.User() == "sub" {
					s = x
				}
			}
			if s == nil {
				t.Fatal("no session of user sub")
			}

			if err := s.LockOps(ctx); err != nil { // what a move holds
				t.Fatal(err)
			}
			id := c.request(ctx, t, "unsubscribe", "c", nil)
			answer := readAnswer(ctx, t, c, id)
			_, held := s.Subscribed("c")
			s.UnlockOps() // the move is over
			if !held {
				t.Fatal("the session left the channel without its operation lock")
			}
			if !strings.Contains(answer, "still subscribed") {
				t.Fatalf("unsubscribe answered %s while the session still holds the channel; want an error saying it is still subscribed", answer)
			}

			// Still delivered, as the answer said.
			pub := &publisher{pubsubClient: dialPubSub(ctx, t, addr, "pub", p.socketIO)}
			pub.subscribe(ctx, t, "c")
			seq := pub.publish(ctx, t, "c", []byte(`1`))
			if r, err := c.next(ctx); err != nil || !r.message || r.seq != seq {
				t.Fatalf("after the refused unsubscribe: %+v, %v; want the message at seq %d", r, err, seq)
			}

			// The retry leaves it.
			id = c.request(ctx, t, "unsubscribe", "c", nil)
			if r, err := c.next(ctx); err != nil || !r.ack || r.id != id {
				t.Fatalf("retried unsubscribe answered %+v, %v; want its ack", r, err)
			}
			if _, held := s.Subscribed("c"); held {
				t.Fatal("the session still holds the channel after the acknowledged retry")
			}
		})
	}
}

// readAnswer reads c's frames until the answer to request id and returns
// it: a legacy ack or error frame, or a Socket.IO ack's arguments.
func readAnswer(ctx context.Context, t *testing.T, c *pubsubClient, id uint64) string {
	t.Helper()
	for {
		f := c.readText(ctx, t)
		if c.socketIO {
			if args, ok := strings.CutPrefix(f, fmt.Sprintf("43%d[", id)); ok {
				return "[" + args
			}
			if f == "2" {
				c.write(ctx, t, "3")
			}
			continue
		}
		var v struct {
			Type string `json:"type"`
			ID   uint64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(f), &v); err != nil {
			t.Fatalf("legacy frame %s: %v", f, err)
		}
		if (v.Type == "ack" || v.Type == "error") && v.ID == id {
			return f
		}
	}
}
