package app

import (
	"slices"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/config"
)

// FuzzHolderAdmin: a lease owner's name comes from Redis, written by any
// gateway (of any version) or by hand; reading its admin URL never
// panics, and gives none or an http(s) URL.
func FuzzHolderAdmin(f *testing.F) {
	f.Add("gw-a pid 12 admin 127.0.0.1:9090")
	f.Add("gw-a pid 12 admin :9090")
	f.Add("gw-a pid 12 admin [::]:9090")
	f.Add("gw-a pid 12 url https://gw-a.internal:9443/baton admin 0.0.0.0:9090")
	f.Add(" pid  admin ")
	f.Add("other-host pid 7")
	f.Fuzz(func(t *testing.T, owner string) {
		u := holderAdmin(owner)
		if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			t.Fatalf("holderAdmin(%q) = %q, want none or an http(s) URL", owner, u)
		}
	})
}

// FuzzRoutingDiffers: the holder's routing fingerprint comes from Redis;
// comparing it never panics, finds no difference with an equal one, and
// names only the routing fields.
func FuzzRoutingDiffers(f *testing.F) {
	ours := routingMeta(config.Routing{Salt: "s", Allow: []string{"a"}, Deny: []string{"d"}})
	f.Add(ours)
	f.Add(routingMeta(config.Routing{Salt: "t"}))
	f.Add("")
	f.Add("routing v2=abc")
	f.Add("routing salt= allow deny==x")
	f.Fuzz(func(t *testing.T, theirs string) {
		d := routingDiffers(ours, theirs)
		if theirs == ours && d != nil {
			t.Fatalf("an equal fingerprint differs in %v", d)
		}
		for _, field := range d {
			if !slices.Contains([]string{"routing.salt", "routing.allow", "routing.deny", "routing settings"}, field) {
				t.Fatalf("routingDiffers(%q) names %q", theirs, field)
			}
		}
		if saltDiffers(d) != (slices.Contains(d, "routing.salt") || slices.Contains(d, "routing settings")) {
			t.Fatalf("saltDiffers(%v) disagrees with the fields", d)
		}
		if len(d) > 0 {
			_ = routingMismatch(d, "holder") // says it without panicking
		}
	})
}
