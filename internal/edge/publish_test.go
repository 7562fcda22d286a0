package edge_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/service"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestPipelinedPublishes: a client may send publishes without waiting for
// their answers, more than the 8 the edge keeps in flight at once, on
// either edge and either backend. Each gets its ack once, in the order of
// the requests, with increasing seqs, and each message comes back once,
// in order.
func TestPipelinedPublishes(t *testing.T) {
	const n = 30
	for _, tc := range protocols {
		for _, backend := range []struct {
			name   string
			weight router.Weight
			color  router.Color
		}{{"blue", 0, router.Blue}, {"green", router.Full, router.Green}} {
			t.Run(tc.name+"/"+backend.name, func(t *testing.T) {
				_, g, addr := startEdgeWith(t, edge.Options{DrainPeriod: time.Millisecond})
				ctx := testenv.Context(t, 30*time.Second)
				if _, _, err := g.SetWeight(ctx, backend.weight); err != nil {
					t.Fatal(err)
				}
				c := dialPubSub(ctx, t, addr, "pipelined", tc.socketIO)
				c.subscribe(ctx, t, "pipe")
				if ss := g.Sessions(); len(ss) != 1 || ss[0].Color() != backend.color {
					t.Fatalf("want one session on %s", backend.name)
				}
				var ids []uint64
				for range n {
					ids = append(ids, c.request(ctx, t, "publish", "pipe", []byte(`"x"`)))
				}
				var acked, acks, delivered []uint64
				for len(acks) < n || len(delivered) < n {
					r, err := c.next(ctx)
					if err != nil {
						t.Fatalf("after %d acks and %d messages: %v", len(acks), len(delivered), err)
					}
					if r.ack {
						acked, acks = append(acked, r.id), append(acks, r.seq)
					} else {
						delivered = append(delivered, r.seq)
					}
				}
				if !slices.Equal(acked, ids) {
					t.Errorf("acks for %v, want %v", acked, ids)
				}
				for i := 1; i < n; i++ {
					if acks[i] <= acks[i-1] {
						t.Fatalf("ack seqs %v: want them increasing", acks)
					}
				}
				if !slices.Equal(delivered, acks) {
					t.Errorf("messages %v, want the acked seqs %v", delivered, acks)
				}
			})
		}
	}
}

// A Socket.IO client with more publishes out than the edge keeps in
// flight, on a backend that does not answer them, holds its reader
// waiting for room. A shutdown, which closes the connection, releases
// that reader at once, not when a publish times out (30 s).
func TestShutdownReleasesAReaderWaitingForRoom(t *testing.T) {
	ed, g, addr := startEdgeOn(t, edge.Options{DrainPeriod: time.Millisecond}, &service.Faults{Latency: time.Minute})
	ctx := testenv.Context(t, 30*time.Second)
	if _, _, err := g.SetWeight(ctx, router.Full); err != nil {
		t.Fatal(err)
	}
	c := dialPubSub(ctx, t, addr, "waiting", true)
	for range 10 { // 8 go out, the 9th waits for room in the reader, the 10th behind it
		c.request(ctx, t, "publish", "slow", []byte(`1`))
	}
	time.Sleep(300 * time.Millisecond) // the reader reaches the 9th
	// The client reads on, so that it answers the close.
	go func() {
		for {
			if _, err := c.next(ctx); err != nil {
				return
			}
		}
	}()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := ed.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v after %s", err, time.Since(start).Round(time.Millisecond))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown took %s: the reader waited for room", took.Round(time.Millisecond))
	}
}
