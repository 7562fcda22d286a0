// Package brokertest is the behavioural suite that every broker.Broker
// implementation must pass: ordering, gap-free seqs under concurrent
// publishers, history bounds, epochs, the slow-subscriber rule, Close, channel
// name checks and byte-exact payloads.
//
// An implementation's test calls Run with a factory and the settings that
// factory uses. Every test bounds its waits with a context, so a broken
// implementation fails instead of hanging.
package brokertest

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
)

// Config tells the suite how the brokers made by the factory are set up.
type Config struct {
	// HistorySize is the number of messages each channel retains: at least
	// 64, and small (64 is good) so that the suite overflows it quickly.
	HistorySize int
	// SubscriberBuffer is the per-subscription buffer: at least 400, so
	// that only the slow-subscriber test overflows it (512 is good).
	SubscriberBuffer int
	// LoseState makes the stream state behind b disappear, as a restart of
	// an in-memory broker or a flushed Redis would, and returns a broker
	// over the new state (b itself, or a new one from the factory). Nil
	// skips the epoch-change test.
	LoseState func(t *testing.T, b broker.Broker) broker.Broker
}

// Timeout bounds each wait of the suite.
const Timeout = 10 * time.Second

// The tests publish at most minBuffer messages that a subscriber may leave
// unread, and read history back at most minHistory messages deep.
const (
	minHistory = 64
	minBuffer  = 400
)

// Run runs the suite. newBroker must return a broker with an empty state of
// its own (no channels shared with other calls) and arrange for it to be
// closed when t ends.
func Run(t *testing.T, newBroker func(t *testing.T) broker.Broker, cfg Config) {
	if cfg.HistorySize < minHistory || cfg.SubscriberBuffer < minBuffer {
		t.Fatalf("brokertest: Config.HistorySize must be >= %d and Config.SubscriberBuffer >= %d", minHistory, minBuffer)
	}
	s := &suite{newBroker: newBroker, cfg: cfg}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"InvalidChannel", s.testInvalidChannel},
		{"PublishAssignsSeqs", s.testPublishAssignsSeqs},
		{"RawBytes", s.testRawBytes},
		{"OrderedDelivery", s.testOrderedDelivery},
		{"ConcurrentPublishers", s.testConcurrentPublishers},
		{"ChannelsAreSeparate", s.testChannelsAreSeparate},
		{"HistoryBasics", s.testHistoryBasics},
		{"HistoryLimit", s.testHistoryLimit},
		{"HistoryGone", s.testHistoryGone},
		{"EpochStable", s.testEpochStable},
		{"EpochChange", s.testEpochChange},
		{"SubscribeThenHistory", s.testSubscribeThenHistory},
		{"SlowSubscriber", s.testSlowSubscriber},
		{"SubscriptionClose", s.testSubscriptionClose},
		{"BrokerClose", s.testBrokerClose},
		{"CanceledContext", s.testCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	newBroker func(t *testing.T) broker.Broker
	cfg       Config
}
