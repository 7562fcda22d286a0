package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// weightOnBoth sets weight w (percent) on the holder h and waits for the
// follower f to apply it.
func weightOnBoth(t *testing.T, h, f *running, w float64) {
	t.Helper()
	putWeight(t, h.App, w)
	want, err := router.FromPercent(w)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, fmt.Sprintf("the follower to apply %v%%", w), 10*time.Second, func() bool {
		return f.Gateway().Status().Weight == want
	})
}

// sharedStoreConfigs are two gateways' configurations over the same
// backends and the same Redis store: the first holds it, the second
// follows.
func sharedStoreConfigs(t *testing.T) (holder, follower *config.Config) {
	t.Helper()
	blue, green := testBackends(t)
	prefix := redisPrefix(t)
	mk := func(when string) *config.Config {
		c := testConfig(blue, green, "")
		c.Rollout.Store = config.Store{Kind: config.StoreRedis, URL: "redis://" + testenv.RedisAddr(t), Prefix: prefix, Lease: time.Second, WhenHeld: when}
		return c
	}
	return mk(config.WhenHeldFail), mk(config.WhenHeldFollow)
}

// TestFollowerGatewayFollowsTheHoldersRollout: two active gateways on one
// Redis store. The holder runs a rollout; the follower moves its own
// clients through every step, live, shows the rollout and relays its
// events, and refuses commands naming the holder.
func TestFollowerGatewayFollowsTheHoldersRollout(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	if f.Controller() != nil {
		t.Fatal("the follower runs a controller while the holder holds the store")
	}
	hs, fs := clients(t, h.App, 10), clients(t, f.App, 10)
	events := f.role.Subscribe(256)
	defer events.Close()

	if code, body := adminSend(t, f.App, http.MethodPut, "/api/v1/weight", `{"weight":50}`); code != http.StatusConflict || !strings.Contains(body, "pid") {
		t.Fatalf("PUT weight on the follower: %d %s, want 409 naming the holder", code, body)
	}
	if w := f.Gateway().Status().Weight; w != 0 {
		t.Fatalf("the refused weight moved the follower to %v", w)
	}

	st := runRollout(t, h.Controller())
	if st.Phase != rollout.Completed {
		t.Fatalf("rollout ended %s: %s; %s", st.Phase, st.Reason, lastVerdict(st))
	}
	testenv.Eventually(t, "the follower's sessions to follow the rollout to green", 10*time.Second, func() bool {
		gs := f.Gateway().Status()
		return gs.Weight == router.Full && gs.Sessions.Green == len(fs) && gs.Sessions.Blue == 0
	})
	testenv.Eventually(t, "the follower to show the completed rollout", 5*time.Second, func() bool {
		return f.role.Status().Phase == rollout.Completed && f.role.Status().ID == st.ID
	})
	if p := f.Gateway().Preservation(); p.MovesTried != uint64(len(fs)) || p.SocketsKept != p.MovesTried || p.SubscriptionsKept != p.SubscriptionsTried {
		t.Errorf("the follower's moves: %+v, want %d, all kept", p, len(fs))
	}
	seen := map[rollout.EventKind]bool{}
	timeout := time.After(5 * time.Second)
	for !seen[rollout.EventCompleted] {
		select {
		case e, ok := <-events.C():
			if !ok {
				t.Fatal("the follower's event stream ended")
			}
			if e.Seq == 0 || e.RolloutID != st.ID {
				t.Fatalf("relayed event %+v: want a stored seq and the rollout %s", e, st.ID)
			}
			seen[e.Kind] = true
		case <-timeout:
			t.Fatalf("the follower relayed %v, not the rollout's completion", seen)
		}
	}
	if !seen[rollout.EventStarted] || !seen[rollout.EventStepPassed] {
		t.Errorf("the follower relayed %v, want the start and the steps too", seen)
	}
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}

// TestFollowerTakesTheStoreWhenTheHolderStops: the holder stops; the
// follower takes the store, runs the controller at the stored weight, and
// takes commands; its relayed streams end, so that their readers come
// back to the controller's.
func TestFollowerTakesTheStoreWhenTheHolderStops(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	fs := clients(t, f.App, 10)
	weightOnBoth(t, h, f, 30)
	events := f.role.Subscribe(16)
	defer events.Close()

	h.stop()
	testenv.Eventually(t, "the follower to take the store", 10*time.Second, func() bool { return f.Controller() != nil })
	select {
	case _, ok := <-events.C():
		if ok {
			t.Fatal("an event on the relayed stream after the take-over, want it closed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the relayed stream still open 5s after the take-over")
	}
	if w := f.Gateway().Status().Weight; w != router.Weight(3000) {
		t.Fatalf("after the take-over the weight is %v, want the stored 30%%", w)
	}
	if code, body := adminSend(t, f.App, http.MethodPut, "/api/v1/weight", `{"weight":60}`); code != http.StatusOK {
		t.Fatalf("PUT weight on the new holder: %d %s", code, body)
	}
	if w := f.Gateway().Status().Weight; w != router.Weight(6000) {
		t.Fatalf("weight %v after PUT 60", w)
	}
	checkDelivery(t, fs)
}

// TestStatusAndMetricsShowTheStoreRole: GET /api/v1/status says which
// gateway holds the store, and baton_rollout_store_holder is 1 on it and
// 0 on the follower.
func TestStatusAndMetricsShowTheStoreRole(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	for _, tc := range []struct {
		a      *App
		role   string
		holder float64
	}{{h.App, "holder", 1}, {f.App, "follower", 0}} {
		var st struct {
			Store struct{ Role, Holder string } `json:"store"`
		}
		code, body := adminDo(t, tc.a, http.MethodGet, "/api/v1/status")
		if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
			t.Fatalf("status: %d %v %s", code, err, body)
		}
		if st.Store.Role != tc.role || !strings.Contains(st.Store.Holder, "admin "+h.AdminAddr()) {
			t.Errorf("status store %+v, want role %s and the holder %s", st.Store, tc.role, h.AdminAddr())
		}
		if v := metricValue(t, scrape(t, tc.a), "baton_rollout_store_holder"); v != tc.holder {
			t.Errorf("%s: baton_rollout_store_holder %v, want %v", tc.role, v, tc.holder)
		}
	}
}

// TestHolderThatLosesItsLeaseFollowsTheNewHolder: with when_held: follow,
// a holder that finds its lease in another gateway's hands (it was cut
// off longer than the lease, and a follower took the store) stops running
// the rollout but not its Serve: its clients stay connected, it reports
// itself a follower of the new holder, refuses weights with 409, and
// takes the store again once it is free.
func TestHolderThatLosesItsLeaseFollowsTheNewHolder(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs := clients(t, h.App, 6)
	weightOnBoth(t, h, f, 30)

	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer raw.Close()
	ownerKey := holderCfg.Rollout.Store.Prefix + "{store}:owner"
	if err := raw.Set(context.Background(), ownerKey, "other-host pid 7 0033", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the former holder to follow other-host", 10*time.Second, func() bool {
		select {
		case err := <-h.done:
			h.done <- nil // for stop
			t.Fatalf("the former holder's Serve ended: %v", err)
		default:
		}
		r := h.storeRole()
		return r.Role == "follower" && strings.HasPrefix(r.Holder, "other-host pid 7")
	})
	if h.Controller() != nil {
		t.Fatal("the former holder still runs its controller")
	}
	var st struct {
		Store struct{ Role, Holder string } `json:"store"`
	}
	if code, body := adminDo(t, h.App, http.MethodGet, "/api/v1/status"); code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || st.Store.Role != "follower" {
		t.Fatalf("status of the former holder: %d %s, want role follower", code, body)
	}
	if code, body := adminSend(t, h.App, http.MethodPut, "/api/v1/weight", `{"weight":60}`); code != http.StatusConflict || !strings.Contains(body, "other-host") {
		t.Fatalf("PUT weight on the former holder: %d %s, want 409 naming other-host", code, body)
	}
	if gs := h.Gateway().Status(); gs.Weight != router.Weight(3000) || gs.Sessions.Blue+gs.Sessions.Green != len(hs) {
		t.Fatalf("the former holder's gateway: weight %v, sessions %+v; want 30%% and its %d clients", gs.Weight, gs.Sessions, len(hs))
	}
	checkDelivery(t, hs)

	f.stop()
	if err := raw.Del(context.Background(), ownerKey).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the former holder to take the free store again", 10*time.Second, func() bool {
		return h.Controller() != nil
	})
	if code, body := adminSend(t, h.App, http.MethodPut, "/api/v1/weight", `{"weight":60}`); code != http.StatusOK {
		t.Fatalf("PUT weight on the holder again: %d %s", code, body)
	}
	checkDelivery(t, hs)
}

// TestHolderThatLosesItsLeaseMidStepEndsAtTheStoredWeight: the holder
// loses its lease while its step's moves run (slowly); its controller
// stops, which calls off the moves not started yet. As a follower it
// finishes them: the stored weight is applied once more, though its
// gateway already stands at it.
func TestHolderThatLosesItsLeaseMidStepEndsAtTheStoredWeight(t *testing.T) {
	holderCfg, _ := sharedStoreConfigs(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	holderCfg.Rollout.Steps = []float64{100}
	holderCfg.Handover.MovesPerSecond = 2
	h := start(t, holderCfg, Options{})
	hs := clients(t, h.App, 8)
	if _, err := h.Controller().Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the step's first move", 10*time.Second, func() bool {
		return h.Gateway().Status().Sessions.Green > 0
	})
	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer raw.Close()
	if err := raw.Set(context.Background(), holderCfg.Rollout.Store.Prefix+"{store}:owner", "other-host pid 7 0033", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the former holder to follow", 10*time.Second, func() bool {
		return h.storeRole().Role == "follower"
	})
	if gs := h.Gateway().Status(); gs.Sessions.Green == len(hs) {
		t.Log("every move was done before the lease was lost: the test shows nothing this run")
	}
	testenv.Eventually(t, "the former holder's sessions all on green, at the stored 100%", 15*time.Second, func() bool {
		gs := h.Gateway().Status()
		return gs.Weight == router.Full && gs.Sessions.Green == len(hs)
	})
	checkDelivery(t, hs)
}
