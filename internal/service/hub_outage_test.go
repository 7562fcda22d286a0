package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// A hub whose broker subscription for a channel was closed as slow while
// Redis is down cannot restore the channel until Redis is back. Its members
// must not wait in silence for as long as that takes: past the bound, they
// lose the channel (subscription_lost on the legacy protocol, a closed
// connection on Socket.IO) and can subscribe again with their last seq.
func TestHubLosesAChannelItCannotResubscribe(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	h, sb, _, r := slowClosedDuringOutage(t, ctx)
	h.resubscribeAttempt, h.resubscribeBound = 200*time.Millisecond, time.Second

	close(r.gate) // the hub's fan-out finds its subscription closed as slow
	if err := r.waitLost(t); err == nil {
		t.Fatal("Lost with a nil error")
	}
	if st := h.Stats(); st.Lost != 1 || st.Channels != 0 {
		t.Fatalf("hub stats after the loss: %+v", st)
	}
	testenv.Eventually(t, "the broker subscriptions closed", 5*time.Second, func() bool {
		return sb.Stats().Subscriptions == 0
	})
}

// A channel whose members all leave while the hub waits for Redis to
// resubscribe it ends at once: nothing is left to restore it for, and the
// broker is not to keep a subscription (and the hub a goroutine) for it
// until Redis is back.
func TestHubChannelEndsWhenItsMembersLeaveDuringAnOutage(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	h, sb, _, r := slowClosedDuringOutage(t, ctx)
	h.resubscribeAttempt, h.resubscribeBound = time.Minute, time.Minute

	close(r.gate)
	// The resubscribe waits in the broker for Redis.
	testenv.Eventually(t, "the hub resubscribing", 5*time.Second, func() bool {
		return h.Stats().Resubscribes == 1 && sb.Stats().Subscriptions == 1
	})
	if !h.Unsubscribe("c", r) {
		t.Fatal("the member was no longer subscribed")
	}
	testenv.Eventually(t, "the channel's broker subscription ending with its last member", 5*time.Second, func() bool {
		return sb.Stats().Subscriptions == 0
	})
	if st := h.Stats(); st.Channels != 0 || st.Lost != 0 {
		t.Fatalf("hub stats: %+v", st)
	}
}

// Redis back within the bound: the hub's attempts to resubscribe, each cut
// short, end with one that succeeds, and the members get every message,
// those published during the outage too, and no Lost.
func TestHubResubscribesOnceRedisIsBack(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	h, sb, px, r := slowClosedDuringOutage(t, ctx)
	h.resubscribeAttempt, h.resubscribeBound = 200*time.Millisecond, 20*time.Second

	close(r.gate)
	testenv.Eventually(t, "the hub resubscribing", 5*time.Second, func() bool {
		return h.Stats().Resubscribes == 1
	})
	pb := r.publisher
	publishN(t, ctx, pb, "c", 4) // seqs 4..7, while the hub cannot hear them
	// The reader's backoff is past 400 ms: several attempts have timed out.
	testenv.Eventually(t, "the reader backing off", 10*time.Second, func() bool { return sb.Stats().Reconnects >= 5 })
	px.Up()
	r.waitSeqs(t, 1, 7)
	publishN(t, ctx, pb, "c", 1)
	r.waitSeqs(t, 1, 8)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lost) != 0 {
		t.Fatalf("Lost(%v) although Redis came back within the bound", r.lost[0])
	}
}

// outageMember is a member whose Deliver holds the hub's fan-out until
// gate is closed, with a broker that publishes to Redis directly.
type outageMember struct {
	*gateRecorder
	publisher broker.Broker
}

// slowClosedDuringOutage sets up a hub over a Redis broker (sb) that
// reaches Redis through px, whose subscription to channel "c" has been
// closed as slow while its member r holds the fan-out in Deliver of seq 1,
// and then Redis went down (px refuses connections) long enough for sb's
// reader to be between attempts to reconnect. Closing r.gate lets the hub
// find its subscription closed.
func slowClosedDuringOutage(t *testing.T, ctx context.Context) (*Hub, *redisbroker.Broker, *testenv.Proxy, *outageMember) {
	t.Helper()
	addr := testenv.RedisAddr(t)
	prefix := fmt.Sprintf("baton:test:outage:%d:", time.Now().UnixNano())
	px := testenv.StartProxy(t, addr)
	sb, err := redisbroker.New(ctx, redisbroker.Options{
		Addr: px.Addr(), Prefix: prefix, SubscriberBuffer: 1,
		PingInterval: 50 * time.Millisecond, CommandTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	pb, err := redisbroker.New(ctx, redisbroker.Options{Addr: addr, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pb.Close() })
	h := newHub(t, sb, HubOptions{})
	r := &outageMember{
		gateRecorder: &gateRecorder{recorder: newRecorder(), gate: make(chan struct{}), entered: make(chan struct{}, 1)},
		publisher:    pb,
	}
	// The gate opens when the test ends at the latest, before the hub
	// closes (which waits for its fan-out).
	t.Cleanup(func() {
		select {
		case <-r.gate:
		default:
			close(r.gate)
		}
	})
	if _, err := h.Subscribe(ctx, "c", r); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, pb, "c", 1)
	<-r.entered                  // the hub's fan-out is held in Deliver of seq 1
	publishN(t, ctx, pb, "c", 2) // seq 2 fills the hub's buffer, seq 3 overflows it
	testenv.Eventually(t, "the hub's subscription closed as slow", 5*time.Second, func() bool {
		return sb.Stats().SlowClosed == 1
	})
	px.Down()
	// A failed reconnect leaves the reader between attempts, where a
	// Subscribe waits for the next one rather than fail.
	testenv.Eventually(t, "the reader's failed reconnect", 10*time.Second, func() bool {
		return sb.Stats().Reconnects >= 2
	})
	return h, sb, px, r
}
