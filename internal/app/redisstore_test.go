package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store/redisstore"
	"github.com/baton-rt/baton/internal/testenv"
)

// redisStoreConfig is testConfig with its rollout in a Redis store under a
// prefix of the test's own.
func redisStoreConfig(t *testing.T, prefix string) *config.Config {
	t.Helper()
	blue, green := testBackends(t)
	c := testConfig(blue, green, "")
	c.Rollout.Store = config.Store{Kind: config.StoreRedis, URL: "redis://" + testenv.RedisAddr(t), Prefix: prefix, Lease: time.Second}
	return c
}

func redisPrefix(t *testing.T) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := "batontest:app:" + hex.EncodeToString(b[:]) + ":"
	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if ks, err := raw.Keys(ctx, p+"*").Result(); err == nil && len(ks) > 0 {
			raw.Del(ctx, ks...)
		}
		_ = raw.Close()
	})
	return p
}

// TestRedisStoreIsOneGatewaysAtATime: with rollout.store on Redis, a
// second gateway on the same prefix is refused while the first runs,
// naming it; once the first stops, the second starts and comes back to
// the weight the first stored.
func TestRedisStoreIsOneGatewaysAtATime(t *testing.T) {
	prefix := redisPrefix(t)
	first := start(t, redisStoreConfig(t, prefix), Options{})
	putWeight(t, first.App, 30)

	cfg := redisStoreConfig(t, prefix)
	opts := Options{TestMode: true, Logger: testLogger(t)}
	listeners(t, cfg, &opts)
	if a, err := Build(context.Background(), cfg, opts); err == nil {
		_ = a.Close()
		t.Fatal("a second gateway was built on a Redis store the first holds")
	} else if !errors.Is(err, redisstore.ErrHeld) || !strings.Contains(err.Error(), "rollout.store") || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second gateway: %v, want a HeldError on rollout.store naming the holder", err)
	}
	first.stop() // releases the lease: no wait for its expiry

	second := start(t, redisStoreConfig(t, prefix), Options{})
	want := router.Weight(3000)
	testenv.Eventually(t, "the second gateway to come back to the stored 30%", 10*time.Second, func() bool {
		return second.Gateway().Status().Weight == want
	})
}

// TestRedisStoreTakenByAnotherGatewayStopsThisOne: a gateway that finds
// its lease in another's hands (it was cut off longer than the lease, and
// another gateway started) stops acting on the rollout and ends Serve
// with the reason.
func TestRedisStoreTakenByAnotherGatewayStopsThisOne(t *testing.T) {
	prefix := redisPrefix(t)
	cfg := redisStoreConfig(t, prefix)
	opts := Options{TestMode: true, Logger: testLogger(t), DrainPeriod: 50 * time.Millisecond}
	listeners(t, cfg, &opts)
	a, err := Build(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()

	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer raw.Close()
	if err := raw.Set(ctx, prefix+"{store}:owner", "other-host pid 7 0033", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "lease lost") || !strings.Contains(err.Error(), "other-host pid 7") {
			t.Fatalf("Serve returned %v, want the lease lost to other-host pid 7", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10s after another gateway took its store")
	}
	if v, err := raw.Get(ctx, prefix+"{store}:owner").Result(); err != nil || !strings.HasPrefix(v, "other-host") {
		t.Fatalf("the new owner's lease after the old one stopped: %q, %v", v, err)
	}
}

// TestStandbyGatewayTakesOverWhenTheHolderStops: a gateway with
// rollout.store.when_held: standby waits, listening nowhere, while another holds the
// store, then takes it when that one stops and resumes at its weight.
func TestStandbyGatewayTakesOverWhenTheHolderStops(t *testing.T) {
	prefix := redisPrefix(t)
	first := start(t, redisStoreConfig(t, prefix), Options{})
	putWeight(t, first.App, 30)

	cfg := redisStoreConfig(t, prefix)
	cfg.Rollout.Store.WhenHeld = config.WhenHeldStandby
	opts := Options{TestMode: true, Logger: testLogger(t), DrainPeriod: 50 * time.Millisecond}
	listeners(t, cfg, &opts)
	type built struct {
		a   *App
		err error
	}
	standby := make(chan built, 1)
	go func() {
		a, err := Build(context.Background(), cfg, opts)
		standby <- built{a, err}
	}()
	// Two leases' time with the first gateway alive: the standby waits.
	select {
	case b := <-standby:
		if b.a != nil {
			_ = b.a.Close()
		}
		t.Fatalf("the standby's Build returned (%v) while the first gateway held the store", b.err)
	case <-time.After(2 * time.Second):
	}
	first.stop()

	var b built
	select {
	case b = <-standby:
	case <-time.After(10 * time.Second):
		t.Fatal("the standby did not take the store within 10s of the holder stopping")
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.a.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	testenv.Eventually(t, "the standby to resume at the stored 30%", 10*time.Second, func() bool {
		return b.a.Gateway().Status().Weight == router.Weight(3000)
	})
}

// TestStandbyWaitEndsWithItsContext: SIGTERM (the context) ends a
// standby's wait, with an error naming the holder.
func TestStandbyWaitEndsWithItsContext(t *testing.T) {
	prefix := redisPrefix(t)
	holdStoreAs(t, prefix, "gw-a pid 1")
	cfg := redisStoreConfig(t, prefix)
	cfg.Rollout.Store.WhenHeld = config.WhenHeldStandby
	opts := Options{TestMode: true, Logger: testLogger(t)}
	listeners(t, cfg, &opts)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	a, err := Build(ctx, cfg, opts)
	if err == nil {
		_ = a.Close()
		t.Fatal("a standby was built while the store is held")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gw-a pid 1") {
		t.Fatalf("Build: %v, want the context's end, naming the holder", err)
	}
}

// TestRefusedGatewaySaysHowToShareTheStore: an operator who starts a
// second gateway behind the same load balancer and forgets
// rollout.store.when_held is told which setting lets it run beside the
// holder, not only that the store is one gateway's.
func TestRefusedGatewaySaysHowToShareTheStore(t *testing.T) {
	prefix := redisPrefix(t)
	holdStoreAs(t, prefix, "gw-a pid 1")
	cfg := redisStoreConfig(t, prefix)
	opts := Options{TestMode: true, Logger: testLogger(t)}
	listeners(t, cfg, &opts)
	a, err := Build(context.Background(), cfg, opts)
	if err == nil {
		_ = a.Close()
		t.Fatal("a gateway was built while the store is held")
	}
	if msg := err.Error(); !errors.Is(err, redisstore.ErrHeld) || !strings.Contains(msg, "gw-a pid 1") ||
		!strings.Contains(msg, "rollout.store.when_held: follow") {
		t.Fatalf("Build: %v, want the holder named and rollout.store.when_held: follow suggested", err)
	}
}
