package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// throughProxy points backend URLs at proxy p to their backend, which the
// test can make refuse connections.
func throughProxy(t *testing.T, p *testenv.Proxy, urls ...*string) {
	t.Helper()
	for _, u := range urls {
		*u = strings.Replace(*u, urlHost(*u), p.Addr(), 1)
	}
}

// half is a weight of 50 %.
const half = router.Weight(5000)

// greenBehindProxy starts a holder and a follower on one Redis store,
// both reaching green through the returned proxy.
func greenBehindProxy(t *testing.T) (h, f *running, green *testenv.Proxy) {
	t.Helper()
	holderCfg, followerCfg := sharedStoreConfigs(t)
	green = testenv.StartProxy(t, urlHost(holderCfg.Backends.Green.URL))
	throughProxy(t, green, &holderCfg.Backends.Green.URL, &followerCfg.Backends.Green.URL)
	return start(t, holderCfg, Options{}), start(t, followerCfg, Options{}), green
}

// followersUnderHalf is how many of f's sessions 50 % puts on green; the
// test shows nothing when none.
func followersUnderHalf(t *testing.T, f *running) int {
	t.Helper()
	_, toGreen := f.Gateway().WouldMove(half)
	if toGreen == 0 {
		t.Fatal("no follower session has a bucket under 50%: the test shows nothing")
	}
	return toGreen
}

func urlHost(u string) string {
	h := u[strings.Index(u, "://")+3:]
	return h[:strings.IndexByte(h, '/')]
}

// TestFollowerRetriesFailedMovesWhenTheHolderReappliesTheWeight: green
// refuses both gateways' connections while the holder sets 50% by hand,
// so every move to green fails and the sessions stay on blue. Once green
// is back, the holder sets 50% again: its own failed moves are tried
// again (the gateway lists every misplaced session), and so must the
// follower's, though the stored weight has not changed.
func TestFollowerRetriesFailedMovesWhenTheHolderReappliesTheWeight(t *testing.T) {
	h, f, green := greenBehindProxy(t)
	hs, fs := clients(t, h.App, 10), clients(t, f.App, 10)
	followerLive(t, h.App, f.App)
	toGreen := followersUnderHalf(t, f)

	green.Down()
	putWeight(t, h.App, 50)
	testenv.Eventually(t, "the follower to apply 50% (its moves failing)", 10*time.Second, func() bool {
		r := f.role.follower().record()
		return r.W == half && !r.Busy
	})
	if r := f.role.follower().record(); r.Failed != toGreen || f.Gateway().Status().Sessions.Green != 0 {
		t.Fatalf("green refusing: the follower recorded %+v and has %d sessions on green; want its %d moves failed", r, f.Gateway().Status().Sessions.Green, toGreen)
	}
	green.Up()

	putWeight(t, h.App, 50)
	if _, hg := h.Gateway().WouldMove(half); hg != 0 {
		t.Fatalf("the holder left %d sessions on blue after setting 50%% again", hg)
	}
	testenv.Eventually(t, "the follower's failed moves tried again at the stored 50%", 10*time.Second, func() bool {
		_, fg := f.Gateway().WouldMove(half)
		return fg == 0 && f.Gateway().Status().Sessions.Green == toGreen
	})
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}

// completedWithFollowersBlueBehindProxy starts a holder with 2 clients and
// a follower with 6 on one Redis store, the follower reaching blue
// through the returned proxy, and completes a rollout to 100 %: every
// session on green.
func completedWithFollowersBlueBehindProxy(t *testing.T) (h, f *running, hs, fs []*legacyclient.Client, blue *testenv.Proxy) {
	t.Helper()
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Steps = []float64{100}
	blue = testenv.StartProxy(t, urlHost(followerCfg.Backends.Blue.URL))
	throughProxy(t, blue, &followerCfg.Backends.Blue.URL)
	h, f = start(t, holderCfg, Options{}), start(t, followerCfg, Options{})
	hs, fs = clients(t, h.App, 2), clients(t, f.App, 6)
	followerLive(t, h.App, f.App)
	if st := runRollout(t, h.Controller()); st.Phase != rollout.Completed {
		t.Fatalf("rollout ended %s: %s; %s", st.Phase, st.Reason, lastVerdict(st))
	}
	testenv.Eventually(t, "the follower's sessions on green", 10*time.Second, func() bool {
		return f.Gateway().Status().Sessions.Green == len(fs)
	})
	return h, f, hs, fs, blue
}

// TestHoldersRollbackCountsAFollowersFailedMoves: blue refuses the
// follower's connections during a rollback, so its sessions stay on
// green. The holder's own moves all succeed; its rollback must not end
// as "everyone back on blue": it retries while moves fail and reports the
// sessions left on green, the follower's included.
func TestHoldersRollbackCountsAFollowersFailedMoves(t *testing.T) {
	h, f, _, fs, blue := completedWithFollowersBlueBehindProxy(t)

	blue.Down()
	if _, err := h.Controller().Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, h.Controller(), 30*time.Second, rollout.RolledBack)
	if want := fmt.Sprintf("left %d sessions on green", len(fs)); !strings.Contains(st.Reason, want) {
		t.Fatalf("rollback ended with %q while the follower has %d sessions on green; want %q", st.Reason, f.Gateway().Status().Sessions.Green, want)
	}
}

// TestFollowersRecordFollowsItsOwnRetries: a follower whose moves failed
// records them, and the holder counts them (a rollback reports the
// sessions they left). Once the gateway's own retries have placed those
// sessions, with no new stored weight, the record must say so: a holder
// reading it would otherwise report sessions misplaced that no longer are.
func TestFollowersRecordFollowsItsOwnRetries(t *testing.T) {
	h, f, green := greenBehindProxy(t)
	fs := clients(t, f.App, 10)
	followerLive(t, h.App, f.App)
	toGreen := followersUnderHalf(t, f)

	green.Down()
	putWeight(t, h.App, 50)
	testenv.Eventually(t, "the follower to record its failed moves at 50%", 10*time.Second, func() bool {
		r := f.role.follower().record()
		return r.W == half && !r.Busy && r.Failed == toGreen
	})
	green.Up()

	testenv.Eventually(t, "the follower's sessions on green by the gateway's retries", 20*time.Second, func() bool {
		return f.Gateway().Status().Sessions.Green == toGreen
	})
	testenv.Eventually(t, "the follower's record without the moves its retries made", 5*time.Second, func() bool {
		return f.role.follower().record().Failed == 0
	})
	checkDelivery(t, fs)
}

// TestFollowerRetriesAnEmergencyRollbacksFailedMoves: blue turns the
// follower's connections away during the holder's emergency rollback, so
// the follower's sessions stay on green through the rollback's moves and
// its retries, and the rollback ends with them there. Once blue takes
// connections again, no weight change comes (the rollout has ended):
// the follower's own gateway must move them to blue, where the stored
// weight puts them.
func TestFollowerRetriesAnEmergencyRollbacksFailedMoves(t *testing.T) {
	h, f, hs, fs, blue := completedWithFollowersBlueBehindProxy(t)

	blue.Down()
	if _, err := h.Controller().EmergencyRollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, h.Controller(), 30*time.Second, rollout.RolledBack)
	if want := fmt.Sprintf("left %d sessions on green", len(fs)); !st.Emergency || !strings.Contains(st.Reason, want) {
		t.Fatalf("rolled back (emergency %v) with %q while the follower has %d sessions on green; want %q", st.Emergency, st.Reason, f.Gateway().Status().Sessions.Green, want)
	}
	stored, err := h.st.GetState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the follower to apply the rolled-back state, its moves failing", 10*time.Second, func() bool {
		r := f.role.follower().record()
		return r.V == stored.Version && !r.Busy
	})
	if gs := f.Gateway().Status(); gs.Weight != 0 || gs.Sessions.Green != len(fs) {
		t.Fatalf("blue refusing: the follower stands at %v with %+v; want 0 %% and its %d sessions left on green", gs.Weight, gs.Sessions, len(fs))
	}
	blue.Up()

	testenv.Eventually(t, "the follower's sessions on blue by its gateway's retries", 20*time.Second, func() bool {
		return f.Gateway().Status().Sessions.Blue == len(fs)
	})
	if now, err := h.st.GetState(context.Background()); err != nil || now.Version != stored.Version {
		t.Fatalf("the stored state moved from version %d to %d (%v): the sessions were placed by a weight change", stored.Version, now.Version, err)
	}
	if m := f.Gateway().Status().Moves; m.Retried < uint64(len(fs)) {
		t.Errorf("the follower's moves %+v: want its %d sessions moved by retries", m, len(fs))
	}
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}
