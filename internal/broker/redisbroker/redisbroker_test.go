package redisbroker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/brokertest"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// uniquePrefix keeps parallel test runs on one Redis apart.
func uniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "batontest:" + hex.EncodeToString(b[:]) + ":"
}

// newBroker makes a broker on the test Redis; opts.Prefix "" gets a fresh
// prefix. The keys under the prefix are deleted when the test ends.
func newBroker(t testing.TB, opts redisbroker.Options) *redisbroker.Broker {
	t.Helper()
	opts.Addr = testenv.RedisAddr(t)
	if opts.Prefix == "" {
		opts.Prefix = uniquePrefix()
	}
	b, err := redisbroker.New(testenv.Context(t, 20*time.Second), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		deleteKeys(t, opts.Prefix)
	})
	return b
}

func rawClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// deleteKeys removes every key under prefix, as FLUSHDB would for this
// test's keys only.
func deleteKeys(t testing.TB, prefix string) {
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer c.Close()
	ctx := testenv.Context(t, 20*time.Second)
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("deleting %q: %v", iter.Val(), err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scanning %q: %v", prefix, err)
	}
}

var suiteOptions = redisbroker.Options{HistorySize: 64, SubscriberBuffer: 512}

func TestSuite(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) broker.Broker { return newBroker(t, suiteOptions) }, brokertest.Config{
		HistorySize:      suiteOptions.HistorySize,
		SubscriberBuffer: suiteOptions.SubscriberBuffer,
		LoseState: func(t *testing.T, b broker.Broker) broker.Broker {
			deleteKeys(t, b.(*redisbroker.Broker).Prefix())
			return b
		},
	})
}

// TestTwoProcesses: two brokers on one Redis and prefix (two processes of
// a service) publish concurrently; both assign seqs from one counter and
// both subscribers see every message, in the same order.
func TestTwoProcesses(t *testing.T) {
	const publishers, perPublisher = 4, 50
	prefix := uniquePrefix()
	bs := []*redisbroker.Broker{
		newBroker(t, redisbroker.Options{Prefix: prefix}),
		newBroker(t, redisbroker.Options{Prefix: prefix}),
	}
	ctx := testenv.Context(t, 20*time.Second)
	var subs []broker.Subscription
	for _, b := range bs {
		s, err := b.Subscribe(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		subs = append(subs, s)
	}

	var wg sync.WaitGroup
	seqs := make(chan uint64, publishers*perPublisher)
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			b := bs[p%len(bs)]
			for i := range perPublisher {
				m, err := b.Publish(ctx, "shared", fmt.Appendf(nil, `{"p":%d,"i":%d}`, p, i))
				if err != nil {
					errs <- err
					return
				}
				seqs <- m.Seq
			}
		})
	}
	wg.Wait()
	close(errs)
	close(seqs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := make(map[uint64]bool)
	for s := range seqs {
		if seen[s] || s < 1 || s > publishers*perPublisher {
			t.Fatalf("Publish returned seq %d twice or out of range", s)
		}
		seen[s] = true
	}

	var got [2][]broker.Message
	for i, s := range subs {
		for len(got[i]) < publishers*perPublisher {
			select {
			case m, ok := <-s.Messages():
				if !ok {
					t.Fatalf("subscriber %d closed: %v", i, s.Err())
				}
				if want := uint64(len(got[i]) + 1); m.Seq != want {
					t.Fatalf("subscriber %d got seq %d, want %d", i, m.Seq, want)
				}
				got[i] = append(got[i], m)
			case <-ctx.Done():
				t.Fatalf("subscriber %d: %d messages, then %v", i, len(got[i]), ctx.Err())
			}
		}
	}
	for i := range got[0] {
		a, b := got[0][i], got[1][i]
		if a.Epoch != b.Epoch || string(a.Data) != string(b.Data) {
			t.Fatalf("message %d differs between processes: %+v vs %+v", i+1, a, b)
		}
	}
}

// killPubSub closes, on the Redis side, every connection whose client name
// is name, as a network failure would.
func killPubSub(t testing.TB, name string) {
	t.Helper()
	c, ctx := rawClient(t), testenv.Context(t, 20*time.Second)
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
		if err := c.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed == 0 {
		t.Fatalf("no connection named %q in CLIENT LIST", name)
	}
}

// namedBroker is a broker whose connections carry a client name, so that
// the test can kill them.
func namedBroker(t testing.TB, prefix string, opts redisbroker.Options) (*redisbroker.Broker, string) {
	name := "baton-" + strings.Trim(strings.ReplaceAll(prefix, ":", "-"), "-")
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), ClientName: name})
	t.Cleanup(func() { _ = c.Close() })
	opts.Client, opts.Prefix = c, prefix
	return newBroker(t, opts), name
}

func recv(t *testing.T, ctx context.Context, s broker.Subscription, n int) []broker.Message {
	t.Helper()
	var out []broker.Message
	for len(out) < n {
		select {
		case m, ok := <-s.Messages():
			if !ok {
				t.Fatalf("subscription closed after %d of %d messages: %v", len(out), n, s.Err())
			}
			out = append(out, m)
		case <-ctx.Done():
			t.Fatalf("%d of %d messages, then %v", len(out), n, ctx.Err())
		}
	}
	return out
}

// drain reads until Messages is closed.
func drain(t *testing.T, ctx context.Context, s broker.Subscription) {
	t.Helper()
	for {
		select {
		case _, ok := <-s.Messages():
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatalf("subscription still open: %v", ctx.Err())
		}
	}
}

func checkSeqs(t *testing.T, msgs []broker.Message, first uint64, epoch string) {
	t.Helper()
	for i, m := range msgs {
		if m.Seq != first+uint64(i) || m.Epoch != epoch {
			t.Fatalf("message %d = seq %d epoch %q, want seq %d epoch %q", i, m.Seq, m.Epoch, first+uint64(i), epoch)
		}
	}
}

// TestReconnectFillsGap: messages published while the subscriber's pub/sub
// connection is down are delivered from history after it reconnects.
func TestReconnectFillsGap(t *testing.T) {
	prefix := uniquePrefix()
	sb, name := namedBroker(t, prefix, redisbroker.Options{})
	pb := newBroker(t, redisbroker.Options{Prefix: prefix})
	ctx := testenv.Context(t, 20*time.Second)
	sub, err := sb.Subscribe(ctx, "gap")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	first := publishN(t, ctx, pb, "gap", 5)
	checkSeqs(t, recv(t, ctx, sub, 5), 1, first[0].Epoch)

	release := sb.HoldSubscriptions()
	killPubSub(t, name)
	publishN(t, ctx, pb, "gap", 20)
	release()

	checkSeqs(t, recv(t, ctx, sub, 20), 6, first[0].Epoch)
	st := sb.Stats()
	if st.Reconnects == 0 || st.Recovered == 0 {
		t.Fatalf("Stats() = %+v, want a reconnect and recovered messages", st)
	}
	// Live delivery works again.
	m := publishN(t, ctx, pb, "gap", 1)[0]
	checkSeqs(t, recv(t, ctx, sub, 1), m.Seq, m.Epoch)
}

// TestReconnectHistoryGone: if more was missed than history holds, the
// subscription is closed with ErrMissedMessages instead of skipping.
func TestReconnectHistoryGone(t *testing.T) {
	prefix := uniquePrefix()
	sb, name := namedBroker(t, prefix, redisbroker.Options{HistorySize: 4})
	pb := newBroker(t, redisbroker.Options{Prefix: prefix, HistorySize: 4})
	ctx := testenv.Context(t, 20*time.Second)
	sub, err := sb.Subscribe(ctx, "lost")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	publishN(t, ctx, pb, "lost", 2)
	recv(t, ctx, sub, 2)

	release := sb.HoldSubscriptions()
	killPubSub(t, name)
	publishN(t, ctx, pb, "lost", 10)
	release()

	drain(t, ctx, sub)
	err = sub.Err()
	if !errors.Is(err, redisbroker.ErrMissedMessages) || !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatalf("Err() = %v, want ErrMissedMessages wrapping ErrHistoryGone", err)
	}
	if st := sb.Stats(); st.MissedClosed != 1 {
		t.Fatalf("Stats().MissedClosed = %d, want 1", st.MissedClosed)
	}
}

// TestFlushUnderLiveSubscription: when Redis loses the keys, a live
// subscription carries on with the new epoch from seq 1.
func TestFlushUnderLiveSubscription(t *testing.T) {
	b := newBroker(t, redisbroker.Options{})
	ctx := testenv.Context(t, 20*time.Second)
	sub, err := b.Subscribe(ctx, "flush")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	old := publishN(t, ctx, b, "flush", 3)
	checkSeqs(t, recv(t, ctx, sub, 3), 1, old[0].Epoch)

	deleteKeys(t, b.Prefix())
	fresh := publishN(t, ctx, b, "flush", 2)
	if fresh[0].Epoch == old[0].Epoch {
		t.Fatal("epoch did not change after the keys were deleted")
	}
	checkSeqs(t, recv(t, ctx, sub, 2), 1, fresh[0].Epoch)
}

func publishN(t *testing.T, ctx context.Context, b broker.Broker, channel string, n int) []broker.Message {
	t.Helper()
	var out []broker.Message
	for i := range n {
		m, err := b.Publish(ctx, channel, fmt.Appendf(nil, "%d", i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestStreamTTL(t *testing.T) {
	b := newBroker(t, redisbroker.Options{StreamTTL: time.Minute})
	ctx := testenv.Context(t, 20*time.Second)
	publishN(t, ctx, b, "ttl", 1)
	c := rawClient(t)
	for _, k := range []string{b.Prefix() + "{ttl}:m", b.Prefix() + "{ttl}:h"} {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("PTTL(%q) = %v, %v; want within a minute", k, ttl, err)
		}
	}
}

// A broker without StreamTTL clears a TTL left on a stream's keys (by a
// process configured with one): the stream must not expire under it.
func TestNoStreamTTLClearsAnEarlierOne(t *testing.T) {
	ctx := testenv.Context(t, 20*time.Second)
	withTTL := newBroker(t, redisbroker.Options{StreamTTL: time.Minute})
	publishN(t, ctx, withTTL, "ttl0", 1)
	without := newBroker(t, redisbroker.Options{Prefix: withTTL.Prefix()})
	publishN(t, ctx, without, "ttl0", 1)
	c := rawClient(t)
	for _, k := range []string{withTTL.Prefix() + "{ttl0}:m", withTTL.Prefix() + "{ttl0}:h"} {
		if ttl, err := c.PTTL(ctx, k).Result(); err != nil || ttl != -1 {
			t.Fatalf("PTTL(%q) = %v, %v; want none (-1)", k, ttl, err)
		}
	}
}

func TestNewFailsWithoutRedis(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if b, err := redisbroker.New(ctx, redisbroker.Options{Addr: addr}); err == nil {
		_ = b.Close()
		t.Fatal("New succeeded with nothing listening")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []redisbroker.Options{
		{Prefix: "a{b"}, {HistorySize: -1}, {SubscriberBuffer: -1}, {StreamTTL: -time.Second},
		{StreamTTL: time.Microsecond}, {PingInterval: -1}, {CommandTimeout: -1},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", o)
		}
	}
	if err := (redisbroker.Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
}

func TestStatsCountSlowSubscribers(t *testing.T) {
	b := newBroker(t, redisbroker.Options{SubscriberBuffer: 2})
	ctx := testenv.Context(t, 20*time.Second)
	slow, err := b.Subscribe(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, b, "s", 3)
	// Not reading is the point: wait for the reader to give up on us.
	for i := 0; slow.Err() == nil; i++ {
		if i == 500 {
			t.Fatal("slow subscription still open after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(slow.Err(), broker.ErrSlowSubscriber) {
		t.Fatalf("Err() = %v, want ErrSlowSubscriber", slow.Err())
	}
	if st := b.Stats(); st.SlowClosed != 1 || st.Subscriptions != 0 {
		t.Fatalf("Stats() = %+v, want 1 slow close and no subscriptions", st)
	}
}

// TestIdleConnectionKept: an idle but healthy pub/sub connection answers
// the keep-alive pings and is not replaced.
func TestIdleConnectionKept(t *testing.T) {
	// A pong later than one interval counts as a dead connection, so the
	// interval leaves room for a loaded machine's scheduling (20 ms did not:
	// a CI run beside other test processes reconnected once).
	b := newBroker(t, redisbroker.Options{PingInterval: 100 * time.Millisecond})
	ctx := testenv.Context(t, 20*time.Second)
	sub, err := b.Subscribe(ctx, "idle")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	time.Sleep(800 * time.Millisecond) // many ping intervals
	m := publishN(t, ctx, b, "idle", 1)[0]
	checkSeqs(t, recv(t, ctx, sub, 1), m.Seq, m.Epoch)
	if n := b.Stats().Reconnects; n != 0 {
		t.Fatalf("Stats().Reconnects = %d, want 0 on a healthy connection", n)
	}
}

// proxiedBrokers returns two brokers on one prefix: pb publishes straight
// to Redis, sb subscribes through px, a proxy the test can cut, with a
// short ping interval and command timeout so that it notices soon.
func proxiedBrokers(t *testing.T) (px *testenv.Proxy, pb, sb *redisbroker.Broker) {
	t.Helper()
	prefix := uniquePrefix()
	px = testenv.StartProxy(t, testenv.RedisAddr(t))
	pb = newBroker(t, redisbroker.Options{Prefix: prefix})
	sb, err := redisbroker.New(testenv.Context(t, 20*time.Second), redisbroker.Options{
		Addr: px.Addr(), Prefix: prefix, PingInterval: 50 * time.Millisecond, CommandTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return px, pb, sb
}

// TestSilentConnectionReplaced: when the network silently drops
// everything, the keep-alive ping notices, the reader reconnects and the
// messages published meanwhile are delivered from history.
func TestSilentConnectionReplaced(t *testing.T) {
	px, pb, sb := proxiedBrokers(t)
	ctx := testenv.Context(t, 20*time.Second)
	sub, err := sb.Subscribe(ctx, "silent")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	first := publishN(t, ctx, pb, "silent", 2)
	checkSeqs(t, recv(t, ctx, sub, 2), 1, first[0].Epoch)

	px.Partition()
	publishN(t, ctx, pb, "silent", 10)
	checkSeqs(t, recv(t, ctx, sub, 10), 3, first[0].Epoch)
	if st := sb.Stats(); st.Reconnects == 0 || st.Recovered == 0 {
		t.Fatalf("Stats() = %+v, want a reconnect and recovered messages", st)
	}
}

// A history list whose meta hash is gone (evicted alone) reads as an empty
// channel, not as an error: the next publish starts a new epoch.
func TestHistoryWithoutItsMetaHash(t *testing.T) {
	b := newBroker(t, redisbroker.Options{})
	ctx := testenv.Context(t, 10*time.Second)
	publishN(t, ctx, b, "ev", 3)
	if err := rawClient(t).Del(ctx, b.Prefix()+"{ev}:m").Err(); err != nil {
		t.Fatal(err)
	}
	msgs, pos, err := b.History(ctx, "ev", 0, 0)
	if err != nil || len(msgs) != 0 || pos.Seq != 0 {
		t.Fatalf("History after the meta hash went: %d messages, %+v, %v; want an empty channel", len(msgs), pos, err)
	}
	m, err := b.Publish(ctx, "ev", []byte(`1`))
	if err != nil || m.Seq != 1 {
		t.Fatalf("the next publish: seq %d, %v; want 1 in a new epoch", m.Seq, err)
	}
}

// A stream found gone back in its epoch (here its seq and history set
// back, as a restart from an older snapshot leaves them) is started afresh: the
// subscriptions are closed with broker.ErrStreamReset once the reader
// catches up (here after its connection is cut, as a restart cuts it),
// and the next publish starts a new epoch at seq 1 instead of handing out
// seq 6 again.
func TestStreamGoneBackIsReset(t *testing.T) {
	ctx := testenv.Context(t, 20*time.Second)
	prefix := fmt.Sprintf("batontest:rollback:%d:", time.Now().UnixNano())
	b, name := namedBroker(t, prefix, redisbroker.Options{})
	sub, err := b.Subscribe(ctx, "rb")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	before := publishN(t, ctx, b, "rb", 10)
	recv(t, ctx, sub, 10)
	// The stream as it stood after seq 5: its seq and its history.
	raw := rawClient(t)
	if err := raw.HSet(ctx, prefix+"{rb}:m", "seq", 5).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.LTrim(ctx, prefix+"{rb}:h", 0, 4).Err(); err != nil {
		t.Fatal(err)
	}
	killPubSub(t, name)
	drain(t, ctx, sub)
	if !errors.Is(sub.Err(), broker.ErrStreamReset) {
		t.Fatalf("subscription ended with %v, want ErrStreamReset", sub.Err())
	}
	m, err := b.Publish(ctx, "rb", []byte(`1`))
	if err != nil || m.Seq != 1 || m.Epoch == before[0].Epoch {
		t.Fatalf("the next publish: seq %d of epoch %q (was %q), %v; want seq 1 of a new epoch", m.Seq, m.Epoch, before[0].Epoch, err)
	}
}
