package brokertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
)

// benchPayload is a typical small JSON message.
var benchPayload = []byte(`{"type":"price","symbol":"ACME","bid":101.25,"ask":101.27,"ts":1732867200123}`)

// BenchPublish measures Publish on one channel without subscribers.
func BenchPublish(b *testing.B, br broker.Broker) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for b.Loop() {
		if _, err := br.Publish(ctx, "bench-publish", benchPayload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchPublishParallel measures Publish from GOMAXPROCS goroutines, each on
// its own channel, where a global lock would show.
func BenchPublishParallel(b *testing.B, br broker.Broker) {
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	b.RunParallel(func(pb *testing.PB) {
		channel := fmt.Sprintf("bench-parallel-%d", next.Add(1))
		for pb.Next() {
			if _, err := br.Publish(ctx, channel, benchPayload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchFanout measures one publisher feeding subscribers subscriptions of
// one channel: an op is one message delivered to all of them. The publisher
// waits for every subscriber after each window of messages so that nobody
// overflows a buffer of at least window messages.
func BenchFanout(b *testing.B, br broker.Broker, subscribers, window int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	channel := fmt.Sprintf("bench-fanout-%d", time.Now().UnixNano())

	var target atomic.Uint64 // seq that ends the current window
	var remaining atomic.Int64
	windowDone := make(chan struct{}, 1)
	failed := make(chan error, subscribers)
	var consumers sync.WaitGroup
	subs := make([]broker.Subscription, subscribers)
	for i := range subs {
		s, err := br.Subscribe(ctx, channel)
		if err != nil {
			b.Fatal(err)
		}
		subs[i] = s
		consumers.Go(func() {
			for m := range s.Messages() {
				if m.Seq == target.Load() && remaining.Add(-1) == 0 {
					windowDone <- struct{}{}
				}
			}
			if err := s.Err(); err != nil {
				failed <- err
			}
		})
	}
	defer func() {
		for _, s := range subs {
			_ = s.Close()
		}
		consumers.Wait()
	}()

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var seq uint64
	for published := 0; published < b.N; {
		n := min(window, b.N-published)
		remaining.Store(int64(subscribers))
		target.Store(seq + uint64(n))
		for range n {
			m, err := br.Publish(ctx, channel, benchPayload)
			if err != nil {
				b.Fatal(err)
			}
			seq = m.Seq
		}
		select {
		case <-windowDone:
		case err := <-failed:
			b.Fatal(err)
		case <-ctx.Done():
			b.Fatal("fan-out did not complete")
		}
		published += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(subscribers)/time.Since(start).Seconds(), "deliveries/s")
}
