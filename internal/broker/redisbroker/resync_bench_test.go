package redisbroker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// BenchmarkResync times a broker's recovery after its pub/sub connection
// is killed: from the moment it may reconnect until every one of its
// channels' subscriptions has received the message published on that
// channel while it was cut, which only a history read can find. The
// reconnect's first backoff (50 ms) is part of it. batch=1 reads one
// channel's history per round trip, as the broker did before it
// pipelined them.
func BenchmarkResync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, batch := range []int{1, 512} {
			b.Run(fmt.Sprintf("channels=%d/batch=%d", n, batch), func(b *testing.B) {
				benchResync(b, n, batch)
			})
		}
	}
}

func benchResync(b *testing.B, channels, batch int) {
	prefix := uniquePrefix()
	sb, name := namedBroker(b, prefix, redisbroker.Options{})
	sb.SetResyncBatch(batch)
	pb := newBroker(b, redisbroker.Options{Prefix: prefix})
	ctx := testenv.Context(b, 10*time.Minute)
	names := make([]string, channels)
	subs := make([]broker.Subscription, channels)
	for i := range names {
		names[i] = fmt.Sprintf("resync-%d", i)
		s, err := sb.Subscribe(ctx, names[i])
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		subs[i] = s
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		release := sb.HoldSubscriptions()
		killPubSub(b, name)
		publishEach(b, ctx, pb, names)
		var got sync.WaitGroup
		for _, s := range subs {
			got.Go(func() {
				select {
				case _, ok := <-s.Messages():
					if !ok {
						b.Errorf("subscription closed: %v", s.Err())
					}
				case <-ctx.Done():
				}
			})
		}
		b.StartTimer()
		release()
		got.Wait()
	}
	b.StopTimer()
	if err := ctx.Err(); err != nil {
		b.Fatalf("not every channel caught up: %v", err)
	}
}

// publishEach publishes one message on every channel, 16 at a time.
func publishEach(tb testing.TB, ctx context.Context, pb broker.Broker, names []string) {
	tb.Helper()
	work := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for ch := range work {
				if _, err := pb.Publish(ctx, ch, []byte(`{}`)); err != nil {
					tb.Error(err)
				}
			}
		})
	}
	for _, ch := range names {
		work <- ch
	}
	close(work)
	wg.Wait()
}
