package membroker_test

import (
	"testing"

	"github.com/baton-rt/baton/internal/broker/brokertest"
	"github.com/baton-rt/baton/internal/broker/membroker"
)

func BenchmarkPublish(b *testing.B) {
	brokertest.BenchPublish(b, benchBroker(b))
}

func BenchmarkPublishParallel(b *testing.B) {
	brokertest.BenchPublishParallel(b, benchBroker(b))
}

// BenchmarkFanout: 1 publisher, 1000 subscriptions on one channel.
func BenchmarkFanout(b *testing.B) {
	brokertest.BenchFanout(b, benchBroker(b), 1000, 256)
}

func benchBroker(b *testing.B) *membroker.Broker {
	br, err := membroker.New(membroker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Close() })
	return br
}
