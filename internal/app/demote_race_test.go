package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// storedState is the rollout state in a's store.
func storedState(t *testing.T, a *App) rollout.State {
	t.Helper()
	stored, err := a.st.GetState(testenv.Context(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st, err := rollout.DecodeStoredState(stored.Blob)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// takeLease puts another owner in the store's lease, as a gateway that
// took the store while this one was cut off.
func takeLease(t *testing.T, cfg *config.Config) {
	t.Helper()
	holdStoreAs(t, cfg.Rollout.Store.Prefix, "other-host pid 7")
}

// holdStoreAs puts owner, another gateway's name, in the lease of the
// store under prefix for a minute.
func holdStoreAs(t *testing.T, prefix, owner string) {
	t.Helper()
	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer raw.Close()
	if err := raw.Set(context.Background(), prefix+"{store}:owner", owner+" 0033", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

// freeStore deletes the store's lease key: its holder went. It reports
// a failure with t.Error, so that a set func (SetWeightByHand's) may call
// it.
func freeStore(t *testing.T, cfg *config.Config) {
	t.Helper()
	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer raw.Close()
	if err := raw.Del(context.Background(), cfg.Rollout.Store.Prefix+"{store}:owner").Err(); err != nil {
		t.Error(err)
	}
}

// takeOverHeld is closed when a gateway that took the store is about to
// wait for a weight being set by hand on the controller it lost
// (testHookHandSetHoldsTakeOver, set for the test).
func takeOverHeld(t *testing.T) <-chan struct{} {
	held := make(chan struct{})
	var once sync.Once
	testHookHandSetHoldsTakeOver = func() { once.Do(func() { close(held) }) }
	t.Cleanup(func() { testHookHandSetHoldsTakeOver = nil })
	return held
}

// loseAndFreeStore has the holder whose config is cfg lose the store to
// another gateway, waits for its controller to close (closed: a
// subscription to it), and frees the store, so that the former holder
// takes it back.
func loseAndFreeStore(t *testing.T, cfg *config.Config, closed *rollout.Subscription) {
	t.Helper()
	takeLease(t, cfg)
	waitClosed(t, closed)
	freeStore(t, cfg)
}

// TestWeightSetByHandAcrossADemotionIsNotLeftUnstored: an operator's
// weight passes the holder's check, then the holder loses its lease and
// becomes a follower before the weight is applied (the handler's moves
// run outside the controller's locks). The weight is not stored (the
// store is another's now): the operator must not be told it was set, and
// the gateway must come back to the stored weight it follows, not stay
// at one no other gateway has.
func TestWeightSetByHandAcrossADemotionIsNotLeftUnstored(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs := clients(t, h.App, 6)
	weightOnBoth(t, h, f, 30)

	ctrl := h.Controller()
	closed := ctrl.Subscribe(1) // ends once the controller's Close has
	defer closed.Close()
	set := func(context.Context) error {
		takeLease(t, holderCfg)
		waitClosed(t, closed)
		testenv.Eventually(t, "the demoted gateway to apply the stored weight once", 10*time.Second, func() bool {
			f := h.role.follower()
			return f != nil && f.record().V > 0
		})
		_, _, err := h.Gateway().SetWeight(context.Background(), router.Weight(6000))
		return err
	}
	err := h.role.SetWeightByHand(context.Background(), router.Weight(6000), set)
	stored := storedState(t, h.App).Weight
	if err == nil && stored != router.Weight(6000) {
		t.Errorf("SetWeightByHand across the demotion succeeded, but the store holds %v", stored)
	}
	if err != nil && !errors.Is(err, admin.ErrFollowing) {
		t.Errorf("SetWeightByHand across the demotion: %v, want the follower's refusal", err)
	}
	testenv.Eventually(t, "the demoted gateway back at the stored weight", 5*time.Second, func() bool {
		return h.Gateway().Status().Weight == storedState(t, h.App).Weight
	})
	checkDelivery(t, hs)
}

// redisUser is a Redis user for one gateway, whose writes the test can
// forbid (Redis answers NOPERM) while its reads go on: a gateway whose
// writes to the store fail, as when cut off, that still sees the lease.
type redisUser struct {
	raw  *redis.Client
	name string
}

func newRedisUser(t *testing.T) *redisUser {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	u := &redisUser{raw: redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)}), name: "batontest-" + hex.EncodeToString(b[:])}
	t.Cleanup(func() {
		_ = u.raw.Do(context.Background(), "ACL", "DELUSER", u.name).Err()
		_ = u.raw.Close()
	})
	u.set(t, "~*")
	return u
}

// set replaces the user's key permissions.
func (u *redisUser) set(t *testing.T, keys string) {
	t.Helper()
	if err := u.raw.Do(context.Background(), "ACL", "SETUSER", u.name, "on", ">pw", "&*", "+@all", "resetkeys", keys).Err(); err != nil {
		t.Skipf("Redis ACLs unavailable: %v", err)
	}
}

func (u *redisUser) url(t *testing.T) string {
	return "redis://" + u.name + ":pw@" + testenv.RedisAddr(t)
}

// TestEmergencyRollbackUnstoredAtADemotionIsNotUndone: the holder's
// emergency rollback cannot be stored (its writes fail), then the
// holder loses its lease and follows. The rollback must not be undone on
// it by the older stored state: the emergency wins over other writers,
// so it is stored before the controller stops, and every gateway rolls
// back.
func TestEmergencyRollbackUnstoredAtADemotionIsNotUndone(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	u := newRedisUser(t)
	holderCfg.Rollout.Store.URL = u.url(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	holderCfg.Rollout.Steps = []float64{50, 100}
	followerCfg.Rollout.Steps = holderCfg.Rollout.Steps
	h := start(t, holderCfg, Options{TestHold: time.Minute})
	f := start(t, followerCfg, Options{})
	hs, fs := clients(t, h.App, 8), clients(t, f.App, 8)
	if _, err := h.Controller().Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "step 1 applied and held", 20*time.Second, func() bool {
		st := storedState(t, h.App)
		_, live, err := h.role.synced.followers(context.Background(), half, 0, false)
		return st.Phase == rollout.Shifting && st.Applied && err == nil && len(live) == 1 // the holder waits for it
	})
	if h.Gateway().Status().Sessions.Green == 0 {
		t.Fatal("no holder session on green at 50%: the test shows nothing")
	}

	u.set(t, "%R~*")
	if _, err := h.Controller().EmergencyRollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the holder's sessions back on blue", 10*time.Second, func() bool {
		return h.Gateway().Status().Sessions.Green == 0
	})
	if st := storedState(t, h.App); st.Phase != rollout.Shifting {
		t.Fatalf("the emergency was stored (%s) while the holder could not write: the test shows nothing", st.Phase)
	}
	// The rollback's end waits for the follower, which never moves (the
	// state and the notice were not written): its driver stores nothing
	// before the demotion.
	u.set(t, "~*")
	takeLease(t, holderCfg)
	testenv.Eventually(t, "the former holder to follow", 10*time.Second, func() bool {
		return h.storeRole().Role == "follower"
	})
	testenv.Eventually(t, "the demoted gateway to apply the stored state", 10*time.Second, func() bool {
		r := h.role.follower().record()
		return r.V > 0 && !r.Busy
	})
	if gs := h.Gateway().Status(); gs.Weight != 0 || gs.Sessions.Green != 0 {
		t.Errorf("the demoted gateway undid its emergency rollback: weight %v, sessions %+v", gs.Weight, gs.Sessions)
	}
	if st := storedState(t, h.App); st.Phase != rollout.RollingBack || !st.Emergency {
		t.Errorf("stored state %s (emergency %v) after the demotion, want the emergency rollback", st.Phase, st.Emergency)
	}
	testenv.Eventually(t, "the follower to roll back", 10*time.Second, func() bool {
		gs := f.Gateway().Status()
		return gs.Weight == 0 && gs.Sessions.Green == 0
	})
	checkDelivery(t, hs)
	checkDelivery(t, fs)
}

// waitClosed waits until sub, a subscription to a controller, is closed:
// the controller's Close has run.
func waitClosed(t *testing.T, sub *rollout.Subscription) {
	t.Helper()
	testenv.Eventually(t, "the holder's controller to close", 10*time.Second, func() bool {
		for {
			select {
			case _, ok := <-sub.C():
				if !ok {
					return true
				}
			default:
				return false
			}
		}
	})
}

// logWatch closes seen at the first record logged with message msg.
type logWatch struct {
	msg  string
	seen chan struct{}
	once sync.Once
	// then, when set, runs on the logging goroutine before seen closes:
	// before the code that logged goes on.
	then func()
}

func (h *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h *logWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() {
			if h.then != nil {
				h.then()
			}
			close(h.seen)
		})
	}
	return nil
}
func (h *logWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logWatch) WithGroup(string) slog.Handler      { return h }

// TestWeightSetByHandAcrossADemotionAndATakeBack: an operator's weight
// passes the holder's check; before it is applied, the holder loses its
// lease, becomes a follower, and takes the store back (the other gateway
// went), starting a new controller that restores the stored weight. The
// weight set by hand, applied on the old controller's word, must not be
// left on this gateway alone: the gateway, the store and the follower
// must agree once it is done, and the operator must not be told a bare
// "controller closed".
func TestWeightSetByHandAcrossADemotionAndATakeBack(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	followerCfg.Rollout.Store.Lease = time.Minute // it campaigns after the test: the holder takes the store back
	held := takeOverHeld(t)

	restored := &logWatch{msg: "rollout: stored weight restored", seen: make(chan struct{})}
	h := start(t, holderCfg, Options{Logger: slog.New(restored)})
	f := start(t, followerCfg, Options{})
	hs := clients(t, h.App, 6)
	weightOnBoth(t, h, f, 30)

	ctrl := h.Controller()
	closed := ctrl.Subscribe(1) // ends once the controller's Close has
	defer closed.Close()
	set := func(context.Context) error {
		loseAndFreeStore(t, holderCfg, closed)
		select {
		case <-restored.seen: // a new controller restored the stored weight first
		case <-held: // the take-back waits for this weight
		case <-time.After(20 * time.Second):
			t.Error("the demoted gateway did not take the store back")
		}
		_, _, err := h.Gateway().SetWeight(context.Background(), router.Weight(6000))
		return err
	}
	err := h.role.SetWeightByHand(context.Background(), router.Weight(6000), set)
	t.Logf("SetWeightByHand across the demotion and the take-back: %v", err)
	if err != nil && !errors.Is(err, admin.ErrFollowing) {
		t.Errorf("SetWeightByHand across the demotion and the take-back: %v, want success or the follower's refusal", err)
	}
	testenv.Eventually(t, "the holder to run a new controller", 10*time.Second, func() bool {
		c := h.Controller()
		return c != nil && c != ctrl
	})
	testenv.Eventually(t, "the gateways at the stored weight", 5*time.Second, func() bool {
		w := storedState(t, h.App).Weight
		return h.Gateway().Status().Weight == w && f.Gateway().Status().Weight == w
	})
	if err == nil && storedState(t, h.App).Weight != router.Weight(6000) {
		t.Errorf("SetWeightByHand succeeded, but the store holds %v", storedState(t, h.App).Weight)
	}
	checkDelivery(t, hs)
}
