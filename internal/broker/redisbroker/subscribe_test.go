package redisbroker_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestFailedSubscribeDropsItsBarrier: a Subscribe whose SUBSCRIBE or PING
// could not be sent leaves no barrier behind (its reply will never come),
// so failed subscribes hold no memory until some later reconnect, and the
// channel can be subscribed to afterwards.
func TestFailedSubscribeDropsItsBarrier(t *testing.T) {
	b, name := namedBroker(t, uniquePrefix(), redisbroker.Options{})
	ctx := testenv.Context(t, 20*time.Second)
	// New's PING made one connection; the second is the reader's pub/sub
	// connection, dialed once the reader is past the point where it picks
	// the connection to read: it keeps reading that one.
	for i := 0; namedClients(t, name) < 2; i++ {
		if i == 500 {
			t.Fatal("the reader's connection did not show up in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	restore := b.BreakPubSub()
	for range 3 {
		if s, err := b.Subscribe(ctx, "broken"); err == nil {
			s.Close()
			t.Fatal("Subscribe succeeded on a broken pub/sub connection")
		}
	}
	restore()
	if n := b.Barriers(); n != 0 {
		t.Fatalf("%d barriers left after the failed subscribes, want 0", n)
	}
	s, err := b.Subscribe(ctx, "broken")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := publishN(t, ctx, b, "broken", 1)[0]
	checkSeqs(t, recv(t, ctx, s, 1), m.Seq, m.Epoch)
	if st := b.Stats(); st.Reconnects != 0 || st.Channels != 1 {
		t.Fatalf("Stats() = %+v, want no reconnect and one channel", st)
	}
}

// namedClients counts the connections whose client name is name.
func namedClients(t testing.TB, name string) int {
	t.Helper()
	list, err := rawClient(t).ClientList(testenv.Context(t, 20*time.Second)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(list, " name="+name+" ")
}

// TestSubscribeKeepsItsDeadlineWhileRedisHangs: while Redis is stuck (it
// accepts connections and answers nothing), the reader's attempts to
// replace its pub/sub connection wait for Redis for seconds. A Subscribe
// made meanwhile must still give up when its own context ends, as the
// contract's ctx promises, rather than wait for those attempts.
func TestSubscribeKeepsItsDeadlineWhileRedisHangs(t *testing.T) {
	sb, _ := hungWithASubscription(t, 500*time.Millisecond)
	ctx := testenv.Context(t, 20*time.Second)
	const deadline = 200 * time.Millisecond
	sctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	start := time.Now()
	s, err := sb.Subscribe(sctx, "other")
	took := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("Subscribe succeeded while Redis hangs")
	}
	if took > deadline+time.Second {
		t.Fatalf("Subscribe with a %v deadline returned after %v (%v)", deadline, took.Round(time.Millisecond), err)
	}
}

// TestCloseBoundedWhileRedisHangs: while Redis is stuck, closing a
// subscription and closing the broker wait for the reader's attempt to
// replace its connection, which CommandTimeout bounds as it bounds the
// reader's other Redis calls.
func TestCloseBoundedWhileRedisHangs(t *testing.T) {
	const commandTimeout = 300 * time.Millisecond
	sb, sub := hungWithASubscription(t, commandTimeout)
	for _, c := range []struct {
		what  string
		close func() error
	}{{"Subscription.Close", sub.Close}, {"Broker.Close", sb.Close}} {
		start := time.Now()
		_ = c.close()
		if took := time.Since(start); took > 2*commandTimeout+time.Second {
			t.Errorf("%s took %v with a CommandTimeout of %v", c.what, took.Round(time.Millisecond), commandTimeout)
		}
	}
}

// hungWithASubscription is a broker, with a subscription, whose Redis
// (behind a proxy) has stopped answering, once its reader has found its
// connection silent and is dialing a new one, which hangs. Both are
// closed when the test ends.
func hungWithASubscription(t *testing.T, commandTimeout time.Duration) (*redisbroker.Broker, broker.Subscription) {
	t.Helper()
	px := testenv.StartProxy(t, testenv.RedisAddr(t))
	sb, err := redisbroker.New(testenv.Context(t, 20*time.Second), redisbroker.Options{
		Addr: px.Addr(), Prefix: uniquePrefix(), PingInterval: 50 * time.Millisecond, CommandTimeout: commandTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	sub, err := sb.Subscribe(testenv.Context(t, 20*time.Second), "stuck")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	px.Stall()
	testenv.Eventually(t, "the reader's reconnect", 10*time.Second, func() bool { return px.Stalled() > 0 })
	return sb, sub
}

// TestSubscribeRightAfterAnOutage: Redis was unreachable long enough for
// the reader's attempts to replace its pub/sub connection to back off
// (between two attempts that connection is closed). Once Redis is back,
// a Subscribe made before the reader's next attempt must be registered by
// that attempt, as the live channels are, instead of failing at once with
// go-redis' "client is closed": for up to maxBackoff (2 s) after a Redis
// restart the reference services refused every subscribe to a channel
// they had not open, so a gateway re-attaching sessions to them then
// found no backend and closed its clients.
func TestSubscribeRightAfterAnOutage(t *testing.T) {
	px, pb, sb := proxiedBrokers(t)
	ctx := testenv.Context(t, 20*time.Second)
	live, err := sb.Subscribe(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	px.Down()
	// The fifth attempt waits 800 ms before it dials.
	testenv.Eventually(t, "the reader backing off", 10*time.Second, func() bool { return sb.Stats().Reconnects >= 5 })
	px.Up()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := sb.Subscribe(sctx, "after")
	if err != nil {
		t.Fatalf("Subscribe once Redis is back: %v", err)
	}
	defer s.Close()
	m := publishN(t, ctx, pb, "after", 1)[0]
	checkSeqs(t, recv(t, ctx, s, 1), m.Seq, m.Epoch)
	m = publishN(t, ctx, pb, "live", 1)[0]
	checkSeqs(t, recv(t, ctx, live, 1), m.Seq, m.Epoch)
}

// TestCatchUpWaitsForTheDialBreaker: after a Redis outage in which the
// broker's commands failed to dial (PoolSize failed dials; a service whose
// clients keep publishing or resuming makes them in a fraction of a second),
// go-redis fails every command at once with the last dial error, without
// dialing, until a probe it makes once a second gets through. The reader's
// own pub/sub connection dials afresh and is back first; its catch-up read
// must not take the breaker's stale error for a lost stream: the reference
// services told the channel's clients subscription_lost after a routine
// Redis restart although nothing was lost. The channel must stay open and
// get what was published meanwhile.
func TestCatchUpWaitsForTheDialBreaker(t *testing.T) {
	pb, sb, redisDown, redisUp := breakerBrokers(t)
	ctx := testenv.Context(t, 20*time.Second)
	sub, err := sb.Subscribe(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	first := publishN(t, ctx, pb, "b", 1)[0]
	checkSeqs(t, recv(t, ctx, sub, 1), 1, first.Epoch)

	redisDown()
	// The reader's next attempt is at most 100 ms away, well within the
	// breaker's second.
	testenv.Eventually(t, "the reader's failed reconnect", 10*time.Second, func() bool { return sb.Stats().Reconnects >= 2 })
	// A short deadline, which History keeps (it would try again for a
	// while), so that most of the breaker's second is left when Redis is
	// back.
	hctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, _, err = sb.History(hctx, "b", 0, 0)
	cancel()
	if err == nil {
		t.Fatal("History while Redis is unreachable succeeded")
	}
	publishN(t, ctx, pb, "b", 3)
	redisUp()
	checkSeqs(t, recv(t, ctx, sub, 3), 2, first.Epoch)
	m := publishN(t, ctx, pb, "b", 1)[0]
	checkSeqs(t, recv(t, ctx, sub, 1), m.Seq, m.Epoch)
}

// breakerBrokers returns two brokers on one prefix: pb publishes straight
// to Redis; sb goes through a proxy, with a client whose dial breaker one
// refused dial opens. redisDown makes Redis unreachable for sb as a
// stopped Redis is (its connections closed, new dials refused), redisUp
// brings it back.
func breakerBrokers(t *testing.T) (pb, sb *redisbroker.Broker, redisDown, redisUp func()) {
	t.Helper()
	prefix := uniquePrefix()
	px := testenv.StartProxy(t, testenv.RedisAddr(t))
	pb = newBroker(t, redisbroker.Options{Prefix: prefix})
	// The client dials px, or, while Redis is down, an address where
	// nothing listens: a stopped Redis refuses connections (px.Down
	// accepts and closes them).
	var target atomic.Value
	target.Store(px.Addr())
	var d net.Dialer
	// One refused dial opens this client's breaker (PoolSize of them do,
	// 10 per CPU by default).
	client := redis.NewClient(&redis.Options{
		Addr: px.Addr(), PoolSize: 1, DialerRetries: 1, ContextTimeoutEnabled: true,
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, target.Load().(string))
		},
	})
	t.Cleanup(func() { _ = client.Close() })
	sb, err := redisbroker.New(testenv.Context(t, 20*time.Second), redisbroker.Options{
		Client: client, Prefix: prefix, PingInterval: 50 * time.Millisecond, CommandTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	closed := testenv.FreeAddr(t)
	redisDown = func() { target.Store(closed); px.Down() }
	redisUp = func() { target.Store(px.Addr()); px.Up() }
	return pb, sb, redisDown, redisUp
}

// TestReadsRightAfterAnOutageWaitForTheDialBreaker: for up to a second
// after Redis is back, go-redis fails the broker's commands with the
// outage's last dial error without dialing (see
// TestCatchUpWaitsForTheDialBreaker). A History read or a Subscribe made
// then must wait for Redis rather than fail: the hub reads a resuming
// subscriber's replay with History and starts a channel with Subscribe, so
// the reference services refused resumes (a gateway re-attaching sessions
// with since closed them) right after a routine Redis restart.
func TestReadsRightAfterAnOutageWaitForTheDialBreaker(t *testing.T) {
	for _, c := range []struct {
		what string
		read func(t *testing.T, ctx context.Context, sb *redisbroker.Broker) error
	}{
		{"History", func(t *testing.T, ctx context.Context, sb *redisbroker.Broker) error {
			msgs, _, err := sb.History(ctx, "h", 1, 0)
			if err == nil {
				checkSeqs(t, msgs, 2, msgs[0].Epoch)
			}
			return err
		}},
		{"Subscribe", func(_ *testing.T, ctx context.Context, sb *redisbroker.Broker) error {
			s, err := sb.Subscribe(ctx, "h")
			if err == nil {
				_ = s.Close()
			}
			return err
		}},
	} {
		t.Run(c.what, func(t *testing.T) {
			pb, sb, redisDown, redisUp := breakerBrokers(t)
			ctx := testenv.Context(t, 20*time.Second)
			publishN(t, ctx, pb, "h", 3)
			redisDown()
			// One refused dial: the breaker is open for the next second.
			// A short deadline, which History keeps, so that most of
			// that second is left when Redis is back.
			dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			_, _, err := sb.History(dctx, "h", 0, 0)
			cancel()
			if err == nil {
				t.Fatal("History while Redis is unreachable succeeded")
			}
			redisUp()
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := c.read(t, rctx, sb); err != nil {
				t.Fatalf("%s once Redis is back: %v", c.what, err)
			}
		})
	}
}

// TestHistoryDuringAnOutageFails: History tries a read that cannot reach
// Redis again for a bounded time only (ReachWait, plus the last try, which
// go-redis retries on its own); during an outage it fails within that, also
// with no deadline of its own.
func TestHistoryDuringAnOutageFails(t *testing.T) {
	px, _, sb := proxiedBrokers(t)
	px.Down()
	start := time.Now()
	_, _, err := sb.History(context.Background(), "h", 0, 0)
	if err == nil {
		t.Fatal("History while Redis is unreachable succeeded")
	}
	if took := time.Since(start); took > redisbroker.ReachWait+2*time.Second {
		t.Fatalf("History while Redis is unreachable failed after %v, want within %v (%v)", took.Round(time.Millisecond), redisbroker.ReachWait, err)
	}
}
