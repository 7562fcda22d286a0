package membroker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/brokertest"
	"github.com/baton-rt/baton/internal/broker/membroker"
)

var suiteOptions = membroker.Options{HistorySize: 64, SubscriberBuffer: 512}

func newBroker(t *testing.T, opts membroker.Options) *membroker.Broker {
	t.Helper()
	b, err := membroker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestSuite(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) broker.Broker { return newBroker(t, suiteOptions) }, brokertest.Config{
		HistorySize:      suiteOptions.HistorySize,
		SubscriberBuffer: suiteOptions.SubscriberBuffer,
		// A memory broker loses everything when its process restarts.
		LoseState: func(t *testing.T, old broker.Broker) broker.Broker {
			_ = old.Close()
			return newBroker(t, suiteOptions)
		},
	})
}

func TestMaxChannels(t *testing.T) {
	b := newBroker(t, membroker.Options{MaxChannels: 2})
	ctx := context.Background()
	for _, ch := range []string{"a", "b", "a"} {
		if _, err := b.Publish(ctx, ch, []byte(`1`)); err != nil {
			t.Fatalf("Publish(%q): %v", ch, err)
		}
	}
	if _, err := b.Publish(ctx, "c", []byte(`1`)); !errors.Is(err, membroker.ErrTooManyChannels) {
		t.Fatalf("Publish to a third channel: %v, want ErrTooManyChannels", err)
	}
	if _, err := b.Subscribe(ctx, "c"); !errors.Is(err, membroker.ErrTooManyChannels) {
		t.Fatalf("Subscribe to a third channel: %v, want ErrTooManyChannels", err)
	}
	// Reading an unknown channel neither fails nor creates it.
	if _, pos, err := b.History(ctx, "c", 0, 0); err != nil || pos.Seq != 0 || pos.Epoch != b.Epoch() {
		t.Fatalf("History of unknown channel: %+v, %v", pos, err)
	}
	if got := b.Stats().Channels; got != 2 {
		t.Fatalf("Stats().Channels = %d, want 2", got)
	}
}

func TestStatsCountSlowSubscribers(t *testing.T) {
	b := newBroker(t, membroker.Options{SubscriberBuffer: 2})
	ctx := context.Background()
	slow, err := b.Subscribe(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Stats().Subscriptions; got != 1 {
		t.Fatalf("Stats().Subscriptions = %d, want 1", got)
	}
	for range 3 {
		if _, err := b.Publish(ctx, "s", []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	if !errors.Is(slow.Err(), broker.ErrSlowSubscriber) {
		t.Fatalf("Err() = %v, want ErrSlowSubscriber", slow.Err())
	}
	if st := b.Stats(); st.SlowClosed != 1 || st.Subscriptions != 0 {
		t.Fatalf("Stats() = %+v, want 1 slow close and no subscriptions", st)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []membroker.Options{{HistorySize: -1}, {SubscriberBuffer: -1}, {MaxChannels: -1}} {
		if _, err := membroker.New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
}

func TestEpochsDiffer(t *testing.T) {
	a, b := newBroker(t, membroker.Options{}), newBroker(t, membroker.Options{})
	if a.Epoch() == "" || a.Epoch() == b.Epoch() {
		t.Fatalf("epochs %q and %q: want two different non-empty ids", a.Epoch(), b.Epoch())
	}
}
