package app

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// exchangeConfigs are sharedStoreConfigs with two steps held long enough
// for the gateways' health, exchanged once a second, to reach the
// holder's gates.
func exchangeConfigs(t *testing.T) (holder, follower *config.Config, holderOpts Options) {
	holder, follower = sharedStoreConfigs(t)
	holder.Rollout.Steps = []float64{50, 100}
	// A gate reads at most one health window, and the other gateways'
	// seconds reach the holder a second or two late: testConfig's 2 s
	// window would leave the follower's traffic mostly out of it.
	holder.Health.Window, follower.Health.Window = 10*time.Second, 10*time.Second
	return holder, follower, Options{TestHold: 3 * time.Second}
}

// TestHoldersGatesJudgeTheFollowersTraffic: green fails only for the
// follower's connections (a fifth of its publishes answered with an
// error, its probes' included). The holder's own green is healthy, but
// its gates judge every gateway's traffic: the rollout rolls back, and
// the follower's clients end on blue, live.
func TestHoldersGatesJudgeTheFollowersTraffic(t *testing.T) {
	holderCfg, followerCfg, holderOpts := exchangeConfigs(t)
	h := start(t, holderCfg, holderOpts)
	f := start(t, followerCfg, Options{GreenFaults: upstream.Faults{ErrorRate: 0.2}})
	hs, fs := clients(t, h.App, 10), clients(t, f.App, 10)

	rollBack(t, h.Controller())
	testenv.Eventually(t, "the follower's clients back on blue", 10*time.Second, func() bool {
		gs := f.Gateway().Status()
		return gs.Weight == 0 && gs.Sessions.Blue == len(fs) && gs.Sessions.Green == 0
	})
	if gs := h.Gateway().Status(); gs.Weight != 0 || gs.Sessions.Blue != len(hs) {
		t.Errorf("the holder after the rollback: weight %v, %+v", gs.Weight, gs.Sessions)
	}
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}

// TestHealthyPairCompletesOnBothGateways: the same pair without faults
// completes, the holder's gates counting the follower's moves too.
func TestHealthyPairCompletesOnBothGateways(t *testing.T) {
	holderCfg, followerCfg, holderOpts := exchangeConfigs(t)
	h := start(t, holderCfg, holderOpts)
	f := start(t, followerCfg, Options{})
	hs, fs := clients(t, h.App, 10), clients(t, f.App, 10)

	st := runRollout(t, h.Controller())
	if st.Phase != rollout.Completed {
		t.Fatalf("rollout ended %s: %s; %s", st.Phase, st.Reason, lastVerdict(st))
	}
	testenv.Eventually(t, "the follower's clients on green", 10*time.Second, func() bool {
		gs := f.Gateway().Status()
		return gs.Weight == router.Full && gs.Sessions.Green == len(fs)
	})
	// The holder's preservation counters are both gateways' moves.
	testenv.Eventually(t, "the holder to count the follower's moves", 5*time.Second, func() bool {
		own, follower, all := h.Gateway().Preservation(), f.Gateway().Preservation(), h.preservation()
		return follower.MovesTried == uint64(len(fs)) && all.MovesTried == own.MovesTried+follower.MovesTried &&
			all.SocketsKept == own.SocketsKept+follower.SocketsKept && all.SubscriptionsKept == own.SubscriptionsKept+follower.SubscriptionsKept
	})
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}

// built is an App built on the holder's configuration and not served, so
// that a test drives its exchange by hand.
func built(t *testing.T, cfg *config.Config) *App {
	t.Helper()
	opts := Options{TestMode: true, Logger: testLogger(t)}
	listeners(t, cfg, &opts)
	a, err := Build(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// The exchange's keys are bounded: the stream by the window's seconds,
// both keys by a TTL; the gateways' set holds this one.
func TestExchangeKeysAreBounded(t *testing.T) {
	cfg, _ := sharedStoreConfigs(t)
	a := built(t, cfg)
	x := a.exch
	ctx := context.Background()
	for range 10 {
		x.beat(ctx)
	}
	key := x.base + x.id
	if n := a.redis.XLen(ctx, key).Val(); n != int64(a.monitor.Window()/time.Second)+2 {
		t.Errorf("stream of %d entries after 10 appends, want the window's %d seconds and 2", n, a.monitor.Window()/time.Second+2)
	}
	for _, k := range []string{key, x.gateways} {
		if ttl := a.redis.PTTL(ctx, k).Val(); ttl <= 0 || ttl > x.ttl() {
			t.Errorf("%s: TTL %v, want at most %v", k, ttl, x.ttl())
		}
	}
	if ids := a.redis.ZRange(ctx, x.gateways, 0, -1).Val(); len(ids) != 1 || ids[0] != x.id {
		t.Errorf("gateways %q, want this one's %q", ids, x.id)
	}
}

// Redis away, a beat gives up within its interval (the gates never wait
// for it) and warns at most every exchangeLogEvery.
func TestExchangeSkipsABeatWhenRedisIsAway(t *testing.T) {
	cfg, _ := sharedStoreConfigs(t)
	a := built(t, cfg)
	var logs countingHandler
	a.log = slog.New(&logs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A Redis that accepts and never answers.
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	live, dead := a.redis, redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1})
	a.redis = dead
	defer func() { a.redis = live; _ = dead.Close() }()
	if a.Controller() == nil {
		t.Fatal("the holder runs no controller: its beats would not read")
	}
	for range 3 {
		began := time.Now()
		a.exch.beat(context.Background())
		if d := time.Since(began); d > exchangeInterval+500*time.Millisecond {
			t.Fatalf("a beat took %v with Redis away, want at most the interval %v", d, exchangeInterval)
		}
	}
	if n := logs.n.Load(); n != 1 {
		t.Errorf("%d warnings in 3 failed beats, want 1", n)
	}
}

// countingHandler counts the records logged at Warn and above.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.n.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// The holder's preservation counters only grow while the followers come
// and go: a follower forgotten for its silence keeps its moves in the
// total, and one that comes back is not counted twice.
func TestExchangePreservationTotalOnlyGrows(t *testing.T) {
	x := &exchange{window: 2 * time.Second, peers: map[string]*peer{}, retired: map[string]rollout.Preservation{}}
	now := time.Now()
	x.seen("a", rollout.Preservation{MovesTried: 10, SocketsKept: 9, SubscriptionsTried: 5, SubscriptionsKept: 5}, now)
	x.seen("b", rollout.Preservation{MovesTried: 3, SocketsKept: 3}, now)
	want := rollout.Preservation{MovesTried: 13, SocketsKept: 12, SubscriptionsTried: 5, SubscriptionsKept: 5}
	if got := x.total(now); got != want {
		t.Fatalf("total %+v, want %+v", got, want)
	}
	now = now.Add(time.Second)
	x.seen("b", rollout.Preservation{MovesTried: 4, SocketsKept: 4}, now)
	now = now.Add(1500 * time.Millisecond) // a silent for 2.5s: forgotten
	want.MovesTried, want.SocketsKept = 14, 13
	if got := x.total(now); got != want {
		t.Fatalf("total after a's silence %+v, want %+v", got, want)
	}
	x.seen("a", rollout.Preservation{MovesTried: 12, SocketsKept: 11, SubscriptionsTried: 5, SubscriptionsKept: 5}, now)
	want.MovesTried, want.SocketsKept = 16, 15
	if got := x.total(now); got != want {
		t.Fatalf("total after a came back %+v, want %+v", got, want)
	}
}
