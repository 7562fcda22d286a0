package app

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestFollowerWithOtherRoutingIsRefused: the gateways behind one load
// balancer must put each user on the same backend. One that would join a
// store's holder with another routing.salt is refused at startup, naming
// the field (and never its value), as a typo in its file would be. One
// whose allow or deny list differs (a rolling restart that changes them)
// joins, and its status names the list; one with the holder's settings,
// in another order, joins and reports nothing.
func TestFollowerWithOtherRoutingIsRefused(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Routing = config.Routing{Salt: "s3cret-one", Allow: []string{"alice", "bob"}, Deny: []string{"mallory"}}
	start(t, holderCfg, Options{})

	for _, c := range []struct {
		field   string
		refused bool
		change  func(*config.Routing)
	}{
		{"routing.salt", true, func(r *config.Routing) { r.Salt = "s3cret-two" }},
		{"routing.allow", false, func(r *config.Routing) { r.Allow = []string{"alice"} }},
		{"routing.deny", false, func(r *config.Routing) { r.Deny = nil }},
	} {
		cfg := *followerCfg
		cfg.Routing = holderCfg.Routing
		cfg.Routing.Allow = append([]string(nil), holderCfg.Routing.Allow...)
		c.change(&cfg.Routing)
		if !c.refused {
			f := start(t, &cfg, Options{})
			code, body := adminSend(t, f.App, http.MethodGet, "/api/v1/status", "")
			var st struct {
				Store struct {
					RoutingMismatch string `json:"routing_mismatch"`
				} `json:"store"`
			}
			if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || !strings.Contains(st.Store.RoutingMismatch, c.field) {
				t.Errorf("GET status on a follower with another %s: %d %s; want routing_mismatch naming it", c.field, code, body)
			}
			continue
		}
		opts := Options{TestMode: true, Logger: testLogger(t)}
		listeners(t, &cfg, &opts)
		a, err := Build(context.Background(), &cfg, opts)
		if err == nil {
			_ = a.Close()
			t.Fatalf("a follower with another %s joined the holder", c.field)
		}
		t.Logf("refused: %v", err)
		if !strings.Contains(err.Error(), c.field) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("follower with another %s refused with %q; want the field named, and no salt", c.field, err)
		}
	}

	same := *followerCfg
	same.Routing = config.Routing{Salt: "s3cret-one", Allow: []string{"bob", "alice", "alice"}, Deny: []string{"mallory"}}
	f := start(t, &same, Options{})
	if code, body := adminSend(t, f.App, http.MethodGet, "/api/v1/status", ""); code != http.StatusOK || strings.Contains(body, "routing_mismatch") {
		t.Fatalf("GET status on a follower with the holder's routing: %d %s", code, body)
	}
}

// TestFollowerReportsANewHolderWithOtherRouting: a follower joins a
// holder of a version that gives no routing fingerprint (no check), and
// then finds, later, the store held by a gateway that routes otherwise
// (one that took the store when its holder went, without meeting this
// follower). It cannot refuse any more: its status says so.
func TestFollowerReportsANewHolderWithOtherRouting(t *testing.T) {
	_, followerCfg := sharedStoreConfigs(t)
	prefix := followerCfg.Rollout.Store.Prefix
	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer func() { _ = raw.Close() }()
	ctx := testenv.Context(t, 30*time.Second)
	// The holder, as another gateway's lease: first one that routes alike.
	hold := func(meta string) {
		t.Helper()
		if err := raw.Set(ctx, prefix+"{store}:owner", "other-gateway pid 1 0011", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if meta == "" { // a holder of a version before the fingerprint
			if err := raw.Del(ctx, prefix+"{store}:owner-meta").Err(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := raw.Set(ctx, prefix+"{store}:owner-meta", meta, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A holder that tells nothing is not checked: the follower joins.
	followerCfg.Routing.Salt = "this-one"
	hold("")
	f := start(t, followerCfg, Options{})
	hold(routingMeta(followerCfg.Routing))

	hold(routingMeta(config.Routing{Salt: "another"}))
	testenv.Eventually(t, "the follower's status to show the routing mismatch", 10*time.Second, func() bool {
		_, body := adminSend(t, f.App, http.MethodGet, "/api/v1/status", "")
		var st struct {
			Store struct {
				RoutingMismatch string `json:"routing_mismatch"`
			} `json:"store"`
		}
		return json.Unmarshal([]byte(body), &st) == nil && strings.Contains(st.Store.RoutingMismatch, "routing.salt")
	})
}

// TestRoutingFingerprintComparesWhatRoutes: two settings that place every
// user alike have one fingerprint (the lists are sets; a key on both lists
// is denied either way), and a fingerprint this version cannot read field
// by field differs as a whole.
func TestRoutingFingerprintComparesWhatRoutes(t *testing.T) {
	a := routingMeta(config.Routing{Salt: "s", Allow: []string{"x", "y", "x"}, Deny: []string{"y"}})
	b := routingMeta(config.Routing{Salt: "s", Allow: []string{"x"}, Deny: []string{"y", "y"}})
	if d := routingDiffers(a, b); d != nil || a != b {
		t.Errorf("alike routing: %q vs %q differ in %v", a, b, d)
	}
	c := routingMeta(config.Routing{Salt: "t", Deny: []string{"y"}})
	if d := routingDiffers(a, c); !slices.Equal(d, []string{"routing.salt", "routing.allow"}) {
		t.Errorf("differs in %v, want routing.salt and routing.allow", d)
	}
	if d := routingDiffers(a, "routing v2=abc"); !slices.Equal(d, []string{"routing settings"}) {
		t.Errorf("an unreadable fingerprint differs in %v, want routing settings", d)
	}
	if d := routingDiffers(a, ""); d != nil {
		t.Errorf("no fingerprint (an older holder) differs in %v, want no check", d)
	}
}

// TestFollowersRoutingMismatchFollowsTheHolder: the follower reads who
// holds the store every 250 ms; what it says of the holder's routing
// must follow as fast, not wait for its next try of the lease (a third of
// a minute here), or its status names one holder and reports another's
// routing.
func TestFollowersRoutingMismatchFollowsTheHolder(t *testing.T) {
	_, followerCfg := sharedStoreConfigs(t)
	followerCfg.Rollout.Store.Lease = time.Minute
	prefix := followerCfg.Rollout.Store.Prefix
	raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer func() { _ = raw.Close() }()
	ctx := testenv.Context(t, 30*time.Second)
	hold := func(owner string, r config.Routing) {
		t.Helper()
		if err := raw.Set(ctx, prefix+"{store}:owner", owner+" 0011", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if err := raw.Set(ctx, prefix+"{store}:owner-meta", routingMeta(r), time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var f *running
	mismatch := func() (holder, mismatch string) {
		_, body := adminSend(t, f.App, http.MethodGet, "/api/v1/status", "")
		var st struct {
			Store struct {
				Holder          string `json:"holder"`
				RoutingMismatch string `json:"routing_mismatch"`
			} `json:"store"`
		}
		_ = json.Unmarshal([]byte(body), &st)
		return st.Store.Holder, st.Store.RoutingMismatch
	}
	followerCfg.Routing.Salt = "this-one"
	hold("gw-alike pid 1", followerCfg.Routing)
	f = start(t, followerCfg, Options{})

	hold("gw-other pid 2", config.Routing{Salt: "another"})
	testenv.Eventually(t, "the follower to report gw-other's salt", 5*time.Second, func() bool {
		h, m := mismatch()
		return h == "gw-other pid 2" && strings.Contains(m, "routing.salt") && strings.Contains(m, "gw-other")
	})
	hold("gw-back pid 3", followerCfg.Routing)
	testenv.Eventually(t, "the follower to report no mismatch with gw-back", 5*time.Second, func() bool {
		h, m := mismatch()
		return h == "gw-back pid 3" && m == ""
	})
}
