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

// A Socket.IO client's reader can be held waiting on the backend: for
// room, with more publishes out than the edge keeps in flight on a backend
// that does not answer them, or for the answer to a request. A shutdown,
// which closes the connection, releases it at once, not when the wait
// times out (30 s).
func TestShutdownReleasesAWaitingReader(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame func(c *pubsubClient, i int) string
		n     int
	}{
		// 8 go out, the 9th waits for room in the reader, the 10th behind it.
		{"publishes beyond the bound", func(c *pubsubClient, _ int) string {
			_, f := c.encodeRequest("publish", "slow", []byte(`1`))
			return f
		}, 10},
		// The backend has no handler for it and never answers.
		{"request without an answer", func(*pubsubClient, int) string { return `421["hello",{}]` }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ed, g, addr := startEdgeOn(t, edge.Options{DrainPeriod: time.Millisecond}, &service.Faults{Latency: time.Minute})
			ctx := testenv.Context(t, 30*time.Second)
			if _, _, err := g.SetWeight(ctx, router.Full); err != nil {
				t.Fatal(err)
			}
			c := dialPubSub(ctx, t, addr, "waiting", true)
			for i := range tc.n {
				c.write(ctx, t, tc.frame(c, i))
			}
			time.Sleep(300 * time.Millisecond) // the reader reaches its wait
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
				t.Errorf("shutdown took %s: the reader kept waiting", took.Round(time.Millisecond))
			}
		})
	}
}
