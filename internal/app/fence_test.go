package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestHolderThatLostItsLeaseWritesNoState: the holder is cut off from
// the lease key (it can neither renew nor see it), the lease expires and
// the follower takes the store, loading the state. The former holder has
// not noticed yet; a weight set by hand on it must not be stored: the
// new holder, idle, would never read it, and every follower would apply
// a weight the holder's own gateway does not have.
func TestHolderThatLostItsLeaseWritesNoState(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	u := newRedisUser(t)
	holderCfg.Rollout.Store.URL = u.url(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	weightOnBoth(t, h, f, 30)

	u.set(t, "~"+holderCfg.Rollout.Store.Prefix+"{store}:[^o]*") // all but the owner key
	testenv.Eventually(t, "the follower to take the store", 10*time.Second, func() bool { return f.Controller() != nil })
	c := h.Controller()
	if c == nil {
		t.Fatal("the former holder noticed the loss: the test shows nothing")
	}
	err := c.SetWeightByHand(context.Background(), router.Weight(6000), func() error {
		_, _, err := h.Gateway().SetWeight(context.Background(), router.Weight(6000))
		return err
	})
	if st := storedState(t, h.App); st.Weight != f.Controller().Status().Weight {
		t.Errorf("the former holder stored %v (err %v) after the new holder loaded %v", st.Weight, err, f.Controller().Status().Weight)
	}
}

// TestHolderWhoseWriteFindsTheLeaseTakenFollows: another gateway took
// the store while the holder was cut off, and the holder's renewal has
// not come round yet (a lease of a minute). A weight set by hand on it is
// refused as a follower's command, not stored, and the write that found
// the lease taken demotes the holder at once: it follows the stored
// weight, its clients served.
func TestHolderWhoseWriteFindsTheLeaseTakenFollows(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	holderCfg.Rollout.Store.Lease = time.Minute
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs := clients(t, h.App, 6)
	weightOnBoth(t, h, f, 30)

	takeLease(t, holderCfg)
	code, body := adminSend(t, h.App, http.MethodPut, "/api/v1/weight", `{"weight":60}`)
	if code != http.StatusConflict || !strings.Contains(body, "taken by another gateway") {
		t.Errorf("PUT weight on a holder whose lease was taken: %d %s, want 409 saying the store was taken", code, body)
	}
	if st := storedState(t, h.App); st.Weight != router.Weight(3000) {
		t.Errorf("the former holder stored %v over the 30%% the store held", st.Weight)
	}
	testenv.Eventually(t, "the former holder to follow, before its renewal", 10*time.Second, func() bool {
		return h.storeRole().Role == "follower"
	})
	testenv.Eventually(t, "the former holder back at the stored weight", 10*time.Second, func() bool {
		return h.Gateway().Status().Weight == router.Weight(3000)
	})
	checkDelivery(t, hs)
}
