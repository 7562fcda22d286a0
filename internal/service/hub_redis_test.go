package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestHubOverRedis runs the replay guarantee against the Redis broker, whose
// position probe and history paging differ from the memory broker's.
func TestHubOverRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	ctx := testenv.Context(t, 30*time.Second)
	b, err := redisbroker.New(ctx, redisbroker.Options{
		Addr:   addr,
		Prefix: fmt.Sprintf("baton:test:hub:%d:", time.Now().UnixNano()),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	h := newHub(t, b, HubOptions{MaxPending: 4})

	first := newRecorder()
	pos, err := h.Subscribe(ctx, "c", first)
	if err != nil || pos.Seq != 0 {
		t.Fatalf("Subscribe on a new channel = %+v, %v", pos, err)
	}
	publishN(t, ctx, b, "c", 50)
	const total = 300
	errc := make(chan error, 1)
	go func() {
		for range total - 50 {
			if _, err := b.Publish(ctx, "c", []byte(`1`)); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	late := newRecorder()
	if _, err := h.SubscribeSince(ctx, "c", late, 10); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	first.waitSeqs(t, 1, total)
	late.waitSeqs(t, 11, total-10)

	if _, err := h.SubscribeSince(ctx, "c", newRecorder(), total+1); err == nil {
		t.Fatal("since ahead of the channel: want an error")
	}
}

// A stream that the broker loses (its keys deleted, as a flush or an
// eviction would) starts again at seq 1 in a new epoch. The channel's
// members lose the channel, told so, instead of taking the new seqs for
// ones they have seen; and a since that may come from the old stream is
// refused (history gone), not answered with a partial replay of the new.
func TestHubTellsOfARestartedStream(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b, h, raw, prefix, _ := redisHub(t, ctx, "restart")

	member := newRecorder()
	if _, err := h.Subscribe(ctx, "c", member); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, b, "c", 3)
	member.waitSeqs(t, 1, 3)
	if err := raw.Del(ctx, prefix+"{c}:m", prefix+"{c}:h").Err(); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, b, "c", 5) // seqs 1..5 of a new epoch

	if err := member.waitLost(t); !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatalf("lost with %v, want a history-gone error", err)
	}
	member.mu.Lock()
	got := len(member.msgs)
	member.mu.Unlock()
	if got != 3 {
		t.Fatalf("the member got %d messages, want only the 3 of the old stream", got)
	}

	if _, err := h.SubscribeSince(ctx, "c", newRecorder(), 3); !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatalf("since 3, from the old stream: %v, want history gone", err)
	}
	// A since past the old stream's newest seq can only be the new one's.
	fresh := newRecorder()
	if _, err := h.SubscribeSince(ctx, "c", fresh, 4); err != nil {
		t.Fatalf("since 4, past the old stream: %v", err)
	}
	fresh.waitSeqs(t, 5, 1)
}

// A stream that went back in its epoch (a Redis restart from an older
// snapshot) is reset by the broker (broker.ErrStreamReset); the hub treats
// it as a restarted stream: its members are told, and a since from before
// is refused.
func TestHubTellsOfAStreamGoneBack(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b, h, raw, prefix, name := redisHub(t, ctx, "goneback")

	member := newRecorder()
	if _, err := h.Subscribe(ctx, "c", member); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, b, "c", 10)
	member.waitSeqs(t, 1, 10)
	// Back to where the stream stood after seq 5, and the connection cut.
	if err := raw.HSet(ctx, prefix+"{c}:m", "seq", 5).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.LTrim(ctx, prefix+"{c}:h", 0, 4).Err(); err != nil {
		t.Fatal(err)
	}
	// Only this broker's connections: other packages' tests share Redis.
	list, err := raw.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name="+name+" ") {
			id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
			if err := raw.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := member.waitLost(t); !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatalf("lost with %v, want a history-gone error", err)
	}
	if _, err := h.SubscribeSince(ctx, "c", newRecorder(), 7); !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatalf("since 7, from before: %v, want history gone", err)
	}
}

// redisHub is a hub over a Redis broker with keys of its own (prefix) and
// connections named name, so that a test can kill them, with a plain
// client (raw) for the test to change the broker's keys behind its back.
func redisHub(t *testing.T, ctx context.Context, what string) (b *redisbroker.Broker, h *Hub, raw *redis.Client, prefix, name string) {
	t.Helper()
	addr := testenv.RedisAddr(t)
	prefix = fmt.Sprintf("baton:test:%s:%d:", what, time.Now().UnixNano())
	name = strings.ReplaceAll(strings.Trim(prefix, ":"), ":", "-")
	client := redis.NewClient(&redis.Options{Addr: addr, ClientName: name})
	t.Cleanup(func() { _ = client.Close() })
	b, err := redisbroker.New(ctx, redisbroker.Options{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	raw = redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = raw.Close() })
	return b, newHub(t, b, HubOptions{}), raw, prefix, name
}
