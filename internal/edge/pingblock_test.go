package edge_test

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
)

// A Socket.IO client whose request waits on the session (the operation
// lock, held here as a move or a recovery holds it; in production up to
// the request timeout, 30 s, against a ping timeout of 20 s) answers every
// ping at once. Its pongs wait behind the request on the connection's
// reader; the time the server's handler takes is not the client's, so the
// session lives and the request gets its answer.
func TestABlockedRequestCostsNoPong(t *testing.T) {
	_, g, addr := startEdgeWith(t, edge.Options{
		Edge:           config.Edge{PingInterval: 200 * time.Millisecond, PingTimeout: 200 * time.Millisecond},
		RequestTimeout: 10 * time.Second,
		DrainPeriod:    time.Millisecond,
	})
	ctx := testenv.Context(t, 20*time.Second)
	c := dialPubSub(ctx, t, addr, "sub", true)
	c.subscribe(ctx, t, "a")

	sessions := g.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions", len(sessions))
	}
	s := sessions[0]
	if err := s.LockOps(ctx); err != nil {
		t.Fatal(err)
	}
	id := c.request(ctx, t, "subscribe", "b", nil)
	type result struct {
		r   received
		err error
	}
	done := make(chan result, 1)
	go func() { // answers every ping while it waits for the ack
		r, err := c.next(ctx)
		done <- result{r, err}
	}()
	time.Sleep(time.Second) // five ping intervals; the client answers each ping
	s.UnlockOps()
	res := <-done
	if res.err != nil || !res.r.ack || res.r.id != id {
		t.Fatalf("subscribe answer %+v, err %v: a client that answered every ping was disconnected", res.r, res.err)
	}
}
