package redisbroker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// historyHook records the history reads a broker's client sends: per round
// trip, how many messages each asked for and got.
type historyHook struct {
	mu     sync.Mutex
	rounds [][]historyCall
	// before, when set, runs before each history read, with its channel
	// key and since.
	before func(key string, since int64)
	// failPipelines is how many pipelines of history reads fail, unsent,
	// before they go through.
	failPipelines int
}

var errInjected = errors.New("injected failure")

type historyCall struct {
	key          string
	since, limit int64
	got, bytes   int // messages and their payload bytes in the reply
}

// historyArgs reports the meta key, since and limit of a history script
// call ("evalsha sha 2 meta hist since limit [bytes]").
func historyArgs(c redis.Cmder) (key string, since, limit int64, ok bool) {
	a := c.Args()
	if (len(a) != 7 && len(a) != 8) || (c.Name() != "evalsha" && c.Name() != "eval") {
		return "", 0, 0, false
	}
	key, ok1 := a[3].(string)
	s, ok2 := a[5].(uint64)
	l, ok3 := a[6].(int)
	if !ok1 || !ok2 || !ok3 || !strings.HasSuffix(key, ":m") {
		return "", 0, 0, false
	}
	return key, int64(s), int64(l), true
}

func (h *historyHook) record(cmds []redis.Cmder) {
	var round []historyCall
	for _, c := range cmds {
		key, since, limit, ok := historyArgs(c)
		if !ok {
			continue
		}
		call := historyCall{key: key, since: since, limit: limit}
		if res, err := c.(*redis.Cmd).Slice(); err == nil && len(res) == 5 {
			items, _ := res[4].([]any)
			call.got = len(items)
			for _, it := range items {
				p, _ := it.(string)
				call.bytes += len(p)
			}
		}
		round = append(round, call)
	}
	if len(round) > 0 {
		h.mu.Lock()
		h.rounds = append(h.rounds, round)
		h.mu.Unlock()
	}
}

func (h *historyHook) runBefore(cmds []redis.Cmder) {
	if h.before == nil {
		return
	}
	for _, c := range cmds {
		if key, since, _, ok := historyArgs(c); ok {
			h.before(key, since)
		}
	}
}

func (h *historyHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *historyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.runBefore([]redis.Cmder{cmd})
		err := next(ctx, cmd)
		h.record([]redis.Cmder{cmd})
		return err
	}
}

func (h *historyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		fail := h.failPipelines > 0
		if fail {
			h.failPipelines--
		}
		h.mu.Unlock()
		if fail {
			for _, c := range cmds {
				c.SetErr(errInjected)
			}
			return errInjected
		}
		h.runBefore(cmds)
		err := next(ctx, cmds)
		h.record(cmds)
		return err
	}
}

// hookedBroker is namedBroker with h on its client.
func hookedBroker(t *testing.T, prefix string, opts redisbroker.Options, h *historyHook) (*redisbroker.Broker, string) {
	name := "baton-" + strings.Trim(strings.ReplaceAll(prefix, ":", "-"), "-")
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), ClientName: name, ContextTimeoutEnabled: true})
	c.AddHook(h)
	t.Cleanup(func() { _ = c.Close() })
	opts.Client, opts.Prefix = c, prefix
	return newBroker(t, opts), name
}

// TestCatchUpIsPaged: a reconnect's catch-up reads what a channel missed a
// page at a time (HistoryPage messages per channel per round trip), not
// its whole retained history at once, which for a batch of channels would
// be HistorySize messages each in one reply; every message still comes
// once, in order, also for channels caught up in the same batch in fewer
// pages.
func TestCatchUpIsPaged(t *testing.T) {
	prefix := uniquePrefix()
	opts := redisbroker.Options{HistorySize: 5000, SubscriberBuffer: 8192}
	h := &historyHook{}
	sb, name := hookedBroker(t, prefix, opts, h)
	const batch = 2
	sb.SetResyncBatch(batch)
	opts.Prefix = prefix
	pb := newBroker(t, opts)
	ctx := testenv.Context(t, 30*time.Second)

	missed := []int{3000, 1, 700}
	subs := make([]broker.Subscription, len(missed))
	epochs := make([]string, len(missed))
	for i := range subs {
		s, err := sb.Subscribe(ctx, fmt.Sprintf("pg-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		subs[i] = s
		epochs[i] = publishN(t, ctx, pb, fmt.Sprintf("pg-%d", i), 1)[0].Epoch
		recv(t, ctx, s, 1)
	}

	release := sb.HoldSubscriptions()
	killPubSub(t, name)
	for i, n := range missed {
		publishN(t, ctx, pb, fmt.Sprintf("pg-%d", i), n)
	}
	h.mu.Lock()
	h.rounds = nil
	h.mu.Unlock()
	release()

	for i, s := range subs {
		checkSeqs(t, recv(t, ctx, s, missed[i]), 2, epochs[i])
	}
	nothingMore(t, ctx, pb, subs, "pg", epochs)

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.rounds) == 0 {
		t.Fatal("no history read recorded")
	}
	for _, round := range h.rounds {
		held := 0
		for _, c := range round {
			if c.limit > redisbroker.HistoryPage || c.got > redisbroker.HistoryPage {
				t.Fatalf("history read of %s after %d asked for %d messages and got %d, want at most %d",
					c.key, c.since, c.limit, c.got, redisbroker.HistoryPage)
			}
			held += c.got
		}
		if held > batch*redisbroker.HistoryPage {
			t.Fatalf("one round trip brought %d messages, want at most %d", held, batch*redisbroker.HistoryPage)
		}
	}
}

// TestPagedCatchUpHistoryGoneMidway: when history is trimmed past what a
// paged catch-up has delivered before it reads its next page, the
// subscription ends with ErrMissedMessages wrapping ErrHistoryGone after
// the pages it got, which came in order without a gap.
func TestPagedCatchUpHistoryGoneMidway(t *testing.T) {
	prefix := uniquePrefix()
	opts := redisbroker.Options{HistorySize: 4 * redisbroker.HistoryPage, SubscriberBuffer: 4096}
	h := &historyHook{}
	sb, name := hookedBroker(t, prefix, opts, h)
	opts.Prefix = prefix
	pb := newBroker(t, opts)
	ctx := testenv.Context(t, 30*time.Second)

	sub, err := sb.Subscribe(ctx, "trim")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	epoch := publishN(t, ctx, pb, "trim", 1)[0].Epoch
	recv(t, ctx, sub, 1)

	release := sb.HoldSubscriptions()
	killPubSub(t, name)
	publishN(t, ctx, pb, "trim", 3*redisbroker.HistoryPage)
	var once sync.Once
	h.before = func(key string, since int64) {
		if since >= redisbroker.HistoryPage { // a page was delivered
			once.Do(func() {
				for i := range 2 * opts.HistorySize {
					if _, err := pb.Publish(ctx, "trim", fmt.Appendf(nil, "t%d", i)); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	release()

	var got []broker.Message
	for open := true; open; {
		select {
		case m, ok := <-sub.Messages():
			if open = ok; ok {
				got = append(got, m)
			}
		case <-ctx.Done():
			t.Fatalf("subscription still open after %d messages: %v", len(got), ctx.Err())
		}
	}
	if len(got) == 0 || len(got) >= 3*redisbroker.HistoryPage {
		t.Fatalf("got %d messages before the end, want the pages read before the trim", len(got))
	}
	checkSeqs(t, got, 2, epoch)
	if err := sub.Err(); !errors.Is(err, redisbroker.ErrMissedMessages) || !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatalf("Err() = %v, want ErrMissedMessages wrapping ErrHistoryGone", err)
	}
}

// TestCatchUpAloneIsPaged: a channel whose pipelined read failed catches
// up on its own, also a page at a time, and gets every message once, in
// order.
func TestCatchUpAloneIsPaged(t *testing.T) {
	prefix := uniquePrefix()
	opts := redisbroker.Options{HistorySize: 2000, SubscriberBuffer: 4096}
	h := &historyHook{}
	sb, name := hookedBroker(t, prefix, opts, h)
	opts.Prefix = prefix
	pb := newBroker(t, opts)
	ctx := testenv.Context(t, 30*time.Second)

	sub, err := sb.Subscribe(ctx, "alone")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	epoch := publishN(t, ctx, pb, "alone", 1)[0].Epoch
	recv(t, ctx, sub, 1)

	release := sb.HoldSubscriptions()
	killPubSub(t, name)
	publishN(t, ctx, pb, "alone", 1500)
	h.mu.Lock()
	h.rounds, h.failPipelines = nil, 1
	h.mu.Unlock()
	release()

	checkSeqs(t, recv(t, ctx, sub, 1500), 2, epoch)
	m := publishN(t, ctx, pb, "alone", 1)[0]
	checkSeqs(t, recv(t, ctx, sub, 1), m.Seq, epoch)

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failPipelines != 0 {
		t.Fatal("the pipelined read was not tried")
	}
	if len(h.rounds) == 0 {
		t.Fatal("no history read recorded")
	}
	for _, round := range h.rounds {
		for _, c := range round {
			if c.limit > redisbroker.HistoryPage || c.got > redisbroker.HistoryPage {
				t.Fatalf("history read of %s after %d asked for %d messages and got %d, want at most %d",
					c.key, c.since, c.limit, c.got, redisbroker.HistoryPage)
			}
		}
	}
}

// TestCatchUpIsBoundedInBytes: a reconnect's pipelined catch-up of large
// messages holds at most the catch-up's byte budget per round trip, not a
// page of messages of up to the largest size for every channel of the
// batch; a message larger than a channel's share still comes, alone; every
// message comes once, in order.
func TestCatchUpIsBoundedInBytes(t *testing.T) {
	prefix := uniquePrefix()
	opts := redisbroker.Options{HistorySize: 1000, SubscriberBuffer: 4096}
	h := &historyHook{}
	sb, name := hookedBroker(t, prefix, opts, h)
	const (
		batch  = 3
		budget = 30_000 // a share of 10,000 bytes while all three catch up
	)
	sb.SetResyncBatch(batch)
	sb.SetCatchUpBytes(budget)
	opts.Prefix = prefix
	pb := newBroker(t, opts)
	ctx := testenv.Context(t, 30*time.Second)

	// Channel 0's messages take two to a share, channel 2's are each
	// larger than one.
	sizes := []int{4000, 100, 15_000}
	const missed = 40
	subs := make([]broker.Subscription, len(sizes))
	epochs := make([]string, len(sizes))
	for i := range subs {
		ch := fmt.Sprintf("big-%d", i)
		s, err := sb.Subscribe(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		subs[i] = s
		epochs[i] = publishN(t, ctx, pb, ch, 1)[0].Epoch
		recv(t, ctx, s, 1)
	}

	release := sb.HoldSubscriptions()
	killPubSub(t, name)
	for i, size := range sizes {
		data := []byte(strings.Repeat("x", size))
		for range missed {
			if _, err := pb.Publish(ctx, fmt.Sprintf("big-%d", i), data); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.mu.Lock()
	h.rounds = nil
	h.mu.Unlock()
	release()

	for i, s := range subs {
		got := recv(t, ctx, s, missed)
		checkSeqs(t, got, 2, epochs[i])
		for _, m := range got {
			if len(m.Data) != sizes[i] {
				t.Fatalf("channel %d: message %d has %d bytes, want %d", i, m.Seq, len(m.Data), sizes[i])
			}
		}
	}
	nothingMore(t, ctx, pb, subs, "big", epochs)

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.rounds) == 0 {
		t.Fatal("no history read recorded")
	}
	for _, round := range h.rounds {
		share := budget / len(round) // the channels still catching up share it
		for _, c := range round {
			if c.got > 1 && c.bytes > share {
				t.Fatalf("history read of %s after %d, one of %d in its round trip, got %d messages of %d bytes, want at most its share of %d bytes unless alone",
					c.key, c.since, len(round), c.got, c.bytes, share)
			}
		}
	}
}

// nothingMore publishes one more message on each channel prefix-i of
// subs[i] and wants it next: nothing else came, each message exactly once.
func nothingMore(t *testing.T, ctx context.Context, pb broker.Broker, subs []broker.Subscription, prefix string, epochs []string) {
	t.Helper()
	for i, s := range subs {
		m := publishN(t, ctx, pb, fmt.Sprintf("%s-%d", prefix, i), 1)[0]
		checkSeqs(t, recv(t, ctx, s, 1), m.Seq, epochs[i])
	}
}
