package app

import (
	"context"
	"errors"
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
	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer raw.Close()
	if err := raw.Set(context.Background(), cfg.Rollout.Store.Prefix+"{store}:owner", "other-host pid 7 0033", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
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
	putWeight(t, h.App, 30)
	testenv.Eventually(t, "the follower to apply 30%", 10*time.Second, func() bool {
		return f.Gateway().Status().Weight == router.Weight(3000)
	})

	ctrl := h.Controller()
	closed := ctrl.Subscribe(1) // ends once the controller's Close has
	defer closed.Close()
	set := func() error {
		takeLease(t, holderCfg)
		testenv.Eventually(t, "the holder's controller to close", 10*time.Second, func() bool {
			for {
				select {
				case _, ok := <-closed.C():
					if !ok {
						return true
					}
				default:
					return false
				}
			}
		})
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
