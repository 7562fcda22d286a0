package app

import (
	"context"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestNewHolderActsOnAnEmergencyStoredOverItsState: the holder is cut off
// from the lease key, its lease expires unseen and the follower takes
// the store, resuming the held step. An emergency rollback on the former
// holder (which has not noticed) is stored over the new holder's state,
// as the emergency wins over every writer: the new holder's gateway must
// roll back too, at once, not at the end of the step's hold.
func TestNewHolderActsOnAnEmergencyStoredOverItsState(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	u := newRedisUser(t)
	holderCfg.Rollout.Store.URL = u.url(t)
	holderCfg.Rollout.Store.WhenHeld = followerCfg.Rollout.Store.WhenHeld
	holderCfg.Rollout.Steps = []float64{50, 100}
	followerCfg.Rollout.Steps = holderCfg.Rollout.Steps
	h := start(t, holderCfg, Options{TestHold: time.Minute})
	f := start(t, followerCfg, Options{TestHold: time.Minute})
	hs, fs := clients(t, h.App, 8), clients(t, f.App, 8)
	if _, err := h.Controller().Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "step 1 applied and held, the follower at 50%", 20*time.Second, func() bool {
		st := storedState(t, h.App)
		if st.Phase != rollout.Shifting || !st.Applied {
			return false
		}
		r := f.role.follower().record()
		return r.W == half && !r.Busy
	})
	if f.Gateway().Status().Sessions.Green == 0 {
		t.Fatal("no follower session on green at 50%: the test shows nothing")
	}

	u.set(t, "~"+holderCfg.Rollout.Store.Prefix+"{store}:[^o]*") // all but the owner key
	testenv.Eventually(t, "the follower to take the store", 10*time.Second, func() bool { return f.Controller() != nil })
	testenv.Eventually(t, "the new holder to resume the held step", 10*time.Second, func() bool {
		st := f.Controller().Status()
		return st.Phase == rollout.Shifting && st.Applied
	})
	c := h.Controller()
	if c == nil {
		t.Fatal("the former holder noticed the loss: the test shows nothing")
	}
	if _, err := c.EmergencyRollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := storedState(t, f.App); st.Phase != rollout.RollingBack || !st.Emergency {
		t.Fatalf("stored state %s (emergency %v) after the emergency rollback, want it stored", st.Phase, st.Emergency)
	}
	testenv.Eventually(t, "the new holder's sessions back on blue", 10*time.Second, func() bool {
		gs := f.Gateway().Status()
		return gs.Weight == 0 && gs.Sessions.Green == 0
	})
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}
