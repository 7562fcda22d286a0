package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestFollowerNamesTheHolderThatTookTheStore: the holder stops and
// another follower takes the store. A follower that has not campaigned
// since (its lease is long: it tries every third of it) must send
// operators to the gateway holding the store now, not to the one that
// went: in its 409s and its status.
func TestFollowerNamesTheHolderThatTookTheStore(t *testing.T) {
	holderCfg, quickCfg := sharedStoreConfigs(t)
	slowCfg := *quickCfg
	slowCfg.Rollout.Store.Lease = time.Minute // no campaign within the test
	h := start(t, holderCfg, Options{})
	slow := start(t, &slowCfg, Options{})
	quick := start(t, quickCfg, Options{})
	if got := slow.storeRole().Holder; got != leaseOwner(h.AdminAddr(), "") {
		t.Fatalf("the follower names %q, want the holder %q", got, leaseOwner(h.AdminAddr(), ""))
	}

	h.stop()
	testenv.Eventually(t, "the quick follower to take the store", 10*time.Second, func() bool {
		return quick.Controller() != nil
	})
	want := leaseOwner(quick.AdminAddr(), "")
	ok := testenv.Poll(5*time.Second, func() bool { return slow.storeRole().Holder == want })
	if !ok {
		t.Errorf("the follower's status names %q 5s after %q took the store", slow.storeRole().Holder, want)
	}
	if code, body := adminSend(t, slow.App, http.MethodPost, "/api/v1/rollout/pause", ""); code != http.StatusConflict || !strings.Contains(body, quick.AdminAddr()) {
		t.Errorf("pause on the follower: %d %s, want 409 naming the holder at %s", code, body, quick.AdminAddr())
	}
}

// TestRefusalAcrossATakeBackNamesTheHolder: an operator's weight passes
// the holder's check; before it is applied the holder loses its lease,
// follows, and takes the store back (the other gateway went). The weight
// is refused as on a follower; the refusal must name the gateway that
// holds the store once it is made (this one), not the one that went.
func TestRefusalAcrossATakeBackNamesTheHolder(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	followerCfg.Rollout.Store.Lease = time.Minute // the holder takes the store back, not the follower
	held := takeOverHeld(t)
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	weightOnBoth(t, h, f, 30)

	closed := h.Controller().Subscribe(1)
	defer closed.Close()
	set := func(context.Context) error {
		loseAndFreeStore(t, holderCfg, closed)
		select {
		case <-held: // the take-back waits for this weight
		case <-time.After(20 * time.Second):
			t.Error("the demoted gateway did not take the store back")
		}
		_, _, err := h.Gateway().SetWeight(context.Background(), router.Weight(6000))
		return err
	}
	err := h.role.SetWeightByHand(context.Background(), router.Weight(6000), set)
	if !errors.Is(err, admin.ErrFollowing) {
		t.Fatalf("SetWeightByHand across the demotion and the take-back: %v, want the follower's refusal", err)
	}
	if msg := err.Error(); !strings.Contains(msg, leaseOwner(h.AdminAddr(), "")) || strings.Contains(msg, "other-host") {
		t.Errorf("the refusal says %q; want it to name the holder now, %q", msg, leaseOwner(h.AdminAddr(), ""))
	}
}

// TestFollowerPointsAtTheHoldersAdminAPI: a follower's 409s and status
// carry, next to the holder's name, the URL of the holder's admin API,
// which an operator can pass to the CLI's --admin as it is.
func TestFollowerPointsAtTheHoldersAdminAPI(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	wantURL := "http://" + h.AdminAddr()
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPut, "/api/v1/weight", `{"weight":50}`},
		{http.MethodPost, "/api/v1/rollout/pause", ""},
	} {
		code, body := adminSend(t, f.App, c.method, c.path, c.body)
		var got struct {
			Holder      string `json:"holder"`
			HolderAdmin string `json:"holder_admin"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusConflict {
			t.Fatalf("%s %s on the follower: %d %s (%v)", c.method, c.path, code, body, err)
		}
		if got.Holder != leaseOwner(h.AdminAddr(), "") || got.HolderAdmin != wantURL {
			t.Errorf("%s %s on the follower: %s, want holder %q and holder_admin %q", c.method, c.path, body, leaseOwner(h.AdminAddr(), ""), wantURL)
		}
	}
	for _, g := range []*running{h, f} {
		_, body := adminSend(t, g.App, http.MethodGet, "/api/v1/status", "")
		var st struct {
			Store struct {
				Holder      string `json:"holder"`
				HolderAdmin string `json:"holder_admin"`
			} `json:"store"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil || st.Store.HolderAdmin != wantURL {
			t.Errorf("status of %s: store %+v (%v), want holder_admin %q", g.AdminAddr(), st.Store, err, wantURL)
		}
	}
}

// TestHolderAdminURL: the admin URL in a lease owner's name; a gateway
// listening on every interface is reached by its host name.
func TestHolderAdminURL(t *testing.T) {
	for _, c := range []struct{ owner, want string }{
		{"gw-a pid 12 admin 10.0.0.5:9090", "http://10.0.0.5:9090"},
		{"gw-a pid 12 admin :9090", "http://gw-a:9090"},
		{"gw-a pid 12 admin 0.0.0.0:9090", "http://gw-a:9090"},
		{"gw-a pid 12 admin [::]:9090", "http://gw-a:9090"},
		{"gw-a pid 12 admin [fd00::5]:9090", "http://[fd00::5]:9090"},
		{"gw-a pid 12 admin admin.internal:9090", "http://admin.internal:9090"},
		{"other-host pid 7", ""},
		{"gw-a pid 12 admin nonsense", ""},
	} {
		if got := holderAdmin(c.owner); got != c.want {
			t.Errorf("holderAdmin(%q) = %q, want %q", c.owner, got, c.want)
		}
	}
}
