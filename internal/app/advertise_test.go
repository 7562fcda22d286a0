package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestFollowerPointsAtTheAdvertisedAdminURL: a holder whose admin API is
// reached by another URL than its admin.listen (NAT, Kubernetes) sets
// admin.advertise_url; the follower's 409s, the status of both and the
// follower's log hand operators that URL as it is, not one built from
// the listen address.
func TestFollowerPointsAtTheAdvertisedAdminURL(t *testing.T) {
	const advertised = "https://gw-a.internal:9443/baton"
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Admin.AdvertiseURL = advertised
	h := start(t, holderCfg, Options{})
	logged := &attrWatch{msg: "rollout.store: held by another gateway; following its rollout", key: "holder_admin"}
	f := start(t, followerCfg, Options{Logger: slog.New(logged)})

	code, body := adminSend(t, f.App, http.MethodPost, "/api/v1/rollout/pause", "")
	var refused struct {
		HolderAdmin string `json:"holder_admin"`
	}
	if err := json.Unmarshal([]byte(body), &refused); err != nil || code != http.StatusConflict || refused.HolderAdmin != advertised {
		t.Errorf("pause on the follower: %d %s (%v), want 409 with holder_admin %q", code, body, err, advertised)
	}
	for _, g := range []*running{h, f} {
		_, body := adminSend(t, g.App, http.MethodGet, "/api/v1/status", "")
		var st struct {
			Store struct {
				HolderAdmin string `json:"holder_admin"`
			} `json:"store"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil || st.Store.HolderAdmin != advertised {
			t.Errorf("status of %s: %s (%v), want holder_admin %q", g.AdminAddr(), body, err, advertised)
		}
	}
	if got := logged.value(); got != advertised {
		t.Errorf("the follower logged holder_admin %q, want %q", got, advertised)
	}
}

// TestAdvertisedOwnerReadByOlderGateways: gateways of older versions read
// a lease owner's name as host, " pid ", and the admin.listen after the
// last " admin " (and Redis's lease value as the name, a space, a token).
// A name with an advertised URL keeps that shape, so they still find the
// holder's host and listen address in it, as before the field existed.
func TestAdvertisedOwnerReadByOlderGateways(t *testing.T) {
	host, _ := os.Hostname()
	owner := leaseOwner("0.0.0.0:9090", "https://gw-2.internal:9090")
	if strings.Count(owner, " admin ") != 1 || !strings.HasSuffix(owner, " admin 0.0.0.0:9090") {
		t.Errorf("owner %q: older gateways read the listen address after \" admin \"", owner)
	}
	if h, _, _ := strings.Cut(owner, " pid "); h != host {
		t.Errorf("owner %q: older gateways read the host %q before \" pid \", want %q", owner, h, host)
	}
	if got := holderAdmin(owner); got != "https://gw-2.internal:9090" {
		t.Errorf("holderAdmin(%q) = %q, want the advertised URL", owner, got)
	}
	if got, want := leaseOwner("0.0.0.0:9090", ""), host+" pid "+strconv.Itoa(os.Getpid())+" admin 0.0.0.0:9090"; got != want {
		t.Errorf("owner without an advertised URL %q, want it as before, %q", got, want)
	}
}

// TestHolderAdminURLAdvertised: the advertised URL in a lease owner's
// name comes first; a name whose URL is no http(s) URL falls back to the
// listen address.
func TestHolderAdminURLAdvertised(t *testing.T) {
	for _, c := range []struct{ owner, want string }{
		{"gw-a pid 12 url https://gw-a.internal:9443 admin 0.0.0.0:9090", "https://gw-a.internal:9443"},
		{"gw-a pid 12 url http://10.1.2.3:30090/baton admin 127.0.0.1:9090", "http://10.1.2.3:30090/baton"},
		{"gw-a pid 12 url nonsense admin 10.0.0.5:9090", "http://10.0.0.5:9090"},
		{"gw-a pid 12 admin 10.0.0.5:9090", "http://10.0.0.5:9090"},
	} {
		if got := holderAdmin(c.owner); got != c.want {
			t.Errorf("holderAdmin(%q) = %q, want %q", c.owner, got, c.want)
		}
	}
}

// attrWatch records the value of key in the first record logged with msg.
type attrWatch struct {
	msg, key string
	mu       sync.Mutex
	got      string
}

func (h *attrWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message != h.msg {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != h.key {
			return true
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.got == "" {
			h.got = a.Value.String()
		}
		return false
	})
	return nil
}
func (h *attrWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *attrWatch) WithGroup(string) slog.Handler      { return h }

func (h *attrWatch) value() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got
}
