package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/rollout"
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
	err := c.SetWeightByHand(context.Background(), router.Weight(6000), func(context.Context) error {
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
	holderCfg, h, _, hs := slowRenewingHolder(t)

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

// TestHolderThatLostItsLeaseAppendsNoEvents: the holder's lease expired
// unseen (its key gone) and the follower took the store; the former
// holder's renewal has not come round yet (a lease of a minute). The new
// holder stores a weight. The former holder, which reads the stored state
// every 250 ms, adopts it and appends its state_reloaded event: the event
// log every gateway's stream relays must not show a transition from a
// gateway that no longer runs the rollout. The append is refused, and the
// refusal demotes the former holder as a refused state write does.
func TestHolderThatLostItsLeaseAppendsNoEvents(t *testing.T) {
	holderCfg, h, f, hs := slowRenewingHolder(t)

	ctx := testenv.Context(t, 30*time.Second)
	freeStore(t, holderCfg)
	testenv.Eventually(t, "the follower to take the store", 10*time.Second, func() bool { return f.Controller() != nil })
	if h.storeRole().Role != "holder" {
		t.Fatal("the former holder noticed the loss: the test shows nothing")
	}
	err := f.Controller().SetWeightByHand(ctx, router.Weight(6000), func(context.Context) error {
		_, _, err := f.Gateway().SetWeight(ctx, router.Weight(6000))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the former holder to follow, before its renewal", 10*time.Second, func() bool {
		return h.storeRole().Role == "follower"
	})
	evs, err := f.App.st.ListEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == string(rollout.EventReloaded) {
			t.Errorf("event %d in the store: %s %s, appended by the gateway that lost the store", e.Seq, e.Kind, e.Data)
		}
	}
	testenv.Eventually(t, "the former holder at the new holder's weight", 10*time.Second, func() bool {
		return h.Gateway().Status().Weight == router.Weight(6000)
	})
	checkDelivery(t, hs)
}

// slowRenewingHolder starts a holder that would follow if it lost the
// store, with a lease of a minute (its renewal, a third of it, does not
// come round within a test), and a follower, both at 30 %, with six
// clients on the holder.
func slowRenewingHolder(t *testing.T) (holderCfg *config.Config, h, f *running, hs []*legacyclient.Client) {
	t.Helper()
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	holderCfg.Rollout.Store.Lease = time.Minute
	h = start(t, holderCfg, Options{})
	f = start(t, followerCfg, Options{})
	hs = clients(t, h.App, 6)
	weightOnBoth(t, h, f, 30)
	return holderCfg, h, f, hs
}
