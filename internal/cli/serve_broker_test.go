package cli

import (
	"context"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// TestServeBrokerKeepsDeadlinesWhileRedisHangs: the Redis broker of
// `baton serve` must give up a call when its context ends, as the broker
// contract promises and the service's bounds (a channel's start, a
// resubscribe attempt, the broker's CommandTimeout) rely on, rather than
// wait out go-redis' own read timeout for a Redis that accepts and
// answers nothing: go-redis ignores context deadlines unless the client
// has ContextTimeoutEnabled, which redis.ParseURL leaves off.
func TestServeBrokerKeepsDeadlinesWhileRedisHangs(t *testing.T) {
	px := testenv.StartProxy(t, testenv.RedisAddr(t))
	ctx := testenv.Context(t, 20*time.Second)
	b, release, err := openBroker(ctx, "redis://"+px.Addr()+"/0", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// Once a Subscribe returns, the reader has its connection (one that
	// hangs in its handshake would hold release for go-redis' read
	// timeout).
	sub, err := b.Subscribe(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	px.Stall()
	const deadline = 300 * time.Millisecond
	hctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	start := time.Now()
	_, _, err = b.History(hctx, "c", 0, 0)
	took := time.Since(start)
	if err == nil {
		t.Fatal("History succeeded while Redis hangs")
	}
	if took > deadline+time.Second {
		t.Fatalf("History with a %v deadline returned after %v (%v)", deadline, took.Round(time.Millisecond), err)
	}
}
