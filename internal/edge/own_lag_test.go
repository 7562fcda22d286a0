package edge_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestEchoAfterALagCountsAgain: a backend whose fan-out once lags more
// than the second the edge waits for a client's own publishes to come back
// (collectWait) has its channel taken for one that does not echo them,
// and the edge stops counting the client's publishes there. When the
// message of that publish does come, late, the channel echoes after all:
// the edge counts again, and a client that then pipelines thousands of
// publishes on it with a small queue is not closed as a slow consumer
// (as TestPipelinedPublishesWithASmallQueue, on a channel that had
// lagged).
func TestEchoAfterALagCountsAgain(t *testing.T) {
	for _, tc := range protocols {
		t.Run(tc.name, func(t *testing.T) {
			var lagging atomic.Bool
			lagging.Store(true)
			b := laggingBroker{Broker: newBroker(t), channel: "p", lag: 1500 * time.Millisecond, lagging: &lagging}
			opts := smallQueue()
			opts.WriteTimeout = time.Minute
			ed, _, addr := startEdgeOver(t, opts, b, nil, nil, func(ln net.Listener) net.Listener { return smallSendBuffers{ln} })
			ctx := testenv.Context(t, 90*time.Second)
			c := dialPubSubWith(ctx, t, http.DefaultClient, addr, "lagged", tc.socketIO)
			c.subscribe(ctx, t, "p")

			// More publishes than half the queue: the reader catches up
			// once, and its wait runs out before the lagging messages come.
			const first = 40
			from := c.lastID + 1
			for range first {
				c.request(ctx, t, "publish", "p", []byte(`1`))
			}
			var seq uint64
			for next := from; next <= c.lastID || seq < first; {
				r, err := c.next(ctx)
				switch {
				case err != nil:
					t.Fatalf("after %d answers and %d messages: %v", next-from, seq, err)
				case r.message && r.seq == seq+1:
					seq++
				case r.ack && r.id == next:
					next++
				default:
					t.Fatalf("got %+v after answer %d and message %d", r, next-from, seq)
				}
			}
			lagging.Store(false)
			testPipelinedPublishes(ctx, t, ed, c, seq)
		})
	}
}

// laggingBroker delays every message of channel by lag from its arrival
// while lagging is set, in order, as a backend whose fan-out falls behind
// its publishes' acks.
type laggingBroker struct {
	broker.Broker
	channel string
	lag     time.Duration
	lagging *atomic.Bool
}

func (b laggingBroker) Subscribe(ctx context.Context, channel string) (broker.Subscription, error) {
	sub, err := b.Broker.Subscribe(ctx, channel)
	if err != nil || channel != b.channel {
		return sub, err
	}
	ls := &laggingSub{Subscription: sub, out: make(chan broker.Message, 1<<14), done: make(chan struct{})}
	go ls.run(b.lag, b.lagging)
	return ls, nil
}

type laggingSub struct {
	broker.Subscription
	out    chan broker.Message
	done   chan struct{}
	closed atomic.Bool
}

func (s *laggingSub) Messages() <-chan broker.Message { return s.out }

func (s *laggingSub) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		close(s.done)
	}
	return s.Subscription.Close()
}

// run takes each message as it comes, due lag later while lagging, and
// passes it on when due.
func (s *laggingSub) run(lag time.Duration, lagging *atomic.Bool) {
	type due struct {
		m  broker.Message
		at time.Time
	}
	queue := make(chan due, cap(s.out))
	go func() {
		defer close(queue)
		for m := range s.Subscription.Messages() {
			at := time.Now()
			if lagging.Load() {
				at = at.Add(lag)
			}
			select {
			case queue <- due{m, at}:
			case <-s.done:
				return
			}
		}
	}()
	defer close(s.out)
	for d := range queue {
		select {
		case <-time.After(time.Until(d.at)):
		case <-s.done:
			return
		}
		select {
		case s.out <- d.m:
		case <-s.done:
			return
		}
	}
}
