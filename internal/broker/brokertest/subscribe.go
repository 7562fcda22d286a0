package brokertest

import (
	"context"
	"errors"
	"testing"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/testenv"
)

// testSlowSubscriber: a subscriber that stops reading is closed with
// ErrSlowSubscriber once its buffer overflows; publishers and the other
// subscribers carry on unaffected.
func (s *suite) testSlowSubscriber(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	n := s.cfg.SubscriberBuffer
	slow := subscribe(t, ctx, b, "slow")
	fast := subscribe(t, ctx, b, "slow")

	// Fill the slow buffer exactly; the fast subscriber keeps up.
	want := publishN(t, ctx, b, "slow", n)
	got := recvN(t, ctx, fast, n)
	// One more message overflows the slow subscriber only.
	more := publishN(t, ctx, b, "slow", 8)
	want = append(want, more...)
	got = append(got, recvN(t, ctx, fast, len(more))...)
	checkSame(t, "fast subscriber", got, want)

	// The slow subscriber still gets what fitted in its buffer, in order,
	// and then learns why it was cut off.
	buffered := drain(t, ctx, slow)
	if len(buffered) > n {
		t.Fatalf("slow subscriber received %d messages, more than its buffer of %d", len(buffered), n)
	}
	checkSame(t, "slow subscriber", buffered, want[:len(buffered)])
	if err := slow.Err(); !errors.Is(err, broker.ErrSlowSubscriber) {
		t.Fatalf("slow subscriber Err() = %v, want ErrSlowSubscriber", err)
	}
	if err := slow.Close(); err != nil {
		t.Fatalf("Close after overflow: %v", err)
	}

	// The channel and the fast subscriber are fine, and the slow one can
	// come back.
	again := subscribe(t, ctx, b, "slow")
	last := publish(t, ctx, b, "slow", []byte(`"after"`))
	checkSame(t, "fast after overflow", recvN(t, ctx, fast, 1), []broker.Message{last})
	checkSame(t, "resubscribed", recvN(t, ctx, again, 1), []broker.Message{last})
}

func (s *suite) testSubscriptionClose(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	one, two := subscribe(t, ctx, b, "unsub"), subscribe(t, ctx, b, "unsub")
	if err := one.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := one.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if rest := drain(t, ctx, one); len(rest) != 0 {
		t.Fatalf("closed subscription delivered %d messages", len(rest))
	}
	if err := one.Err(); err != nil {
		t.Fatalf("Err() after Close = %v, want nil", err)
	}

	m := publish(t, ctx, b, "unsub", []byte(`1`))
	checkSame(t, "remaining subscriber", recvN(t, ctx, two, 1), []broker.Message{m})

	// Leaving and rejoining a channel (the last subscriber goes away)
	// must give a working subscription again.
	if err := two.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	three := subscribe(t, ctx, b, "unsub")
	m = publish(t, ctx, b, "unsub", []byte(`2`))
	checkSame(t, "new subscriber", recvN(t, ctx, three, 1), []broker.Message{m})
}

func (s *suite) testBrokerClose(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	subs := []broker.Subscription{subscribe(t, ctx, b, "close-a"), subscribe(t, ctx, b, "close-b")}
	publish(t, ctx, b, "close-a", []byte(`1`))
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, sub := range subs {
		drain(t, ctx, sub) // at most the one message published before Close
		if err := sub.Err(); !errors.Is(err, broker.ErrClosed) {
			t.Fatalf("subscription %d Err() after broker Close = %v, want ErrClosed", i, err)
		}
		if err := sub.Close(); err != nil {
			t.Fatalf("subscription %d Close after broker Close: %v", i, err)
		}
	}
	if _, err := b.Publish(ctx, "close-a", []byte(`1`)); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(ctx, "close-a"); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}
	if _, _, err := b.History(ctx, "close-a", 0, 0); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("History after Close: %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func (s *suite) testCanceledContext(t *testing.T) {
	b := s.newBroker(t)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Publish(canceled, "ctx", []byte(`1`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a canceled context: %v, want context.Canceled", err)
	}
	if sub, err := b.Subscribe(canceled, "ctx"); !errors.Is(err, context.Canceled) {
		if sub != nil {
			_ = sub.Close()
		}
		t.Fatalf("Subscribe with a canceled context: %v, want context.Canceled", err)
	}
	// A failed Publish leaves no trace.
	_, pos, err := b.History(testenv.Context(t, Timeout), "ctx", 0, 0)
	if err != nil || pos.Seq != 0 {
		t.Fatalf("History after a canceled Publish: %+v, %v; want seq 0", pos, err)
	}
}
