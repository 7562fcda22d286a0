package redisbroker_test

import (
	"testing"

	"github.com/baton-rt/baton/internal/broker/brokertest"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
)

func BenchmarkPublish(b *testing.B) {
	brokertest.BenchPublish(b, newBroker(b, redisbroker.Options{}))
}

func BenchmarkPublishParallel(b *testing.B) {
	brokertest.BenchPublishParallel(b, newBroker(b, redisbroker.Options{}))
}

// BenchmarkFanout: 1 publisher, 1000 local subscriptions on one channel,
// fed by one Redis subscription.
func BenchmarkFanout(b *testing.B) {
	brokertest.BenchFanout(b, newBroker(b, redisbroker.Options{}), 1000, 256)
}
