package edge

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path"
	"testing"

	"github.com/coder/websocket"
)

func originRequest(host, origin string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://"+host+"/ws", nil)
	r.Host = host
	if origin != "" {
		r.Header["Origin"] = []string{origin}
	}
	return r
}

func TestOriginPolicy(t *testing.T) {
	patterns := []string{"*.Example.com", "partner.test:8443", "https://secure.test"}
	p, err := newOriginPolicy(patterns)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // no Origin: not a browser
		{"http://gw.local:8080", true},
		{"https://GW.local:8080", true}, // same host, any scheme, any case
		{"http://gw.local", false},      // the port is part of the host
		{"https://app.example.com", true},
		{"http://APP.EXAMPLE.COM", true},
		{"https://example.com", false},    // "*." needs a subdomain
		{"https://a.b.example.com", true}, // "*" spans dots
		{"http://partner.test:8443", true},
		{"http://partner.test", false},
		{"https://secure.test", true}, // pattern with a scheme
		{"http://secure.test", false},
		{"null", false},
		{"http://evil.test", false},
		{"http://[::1", false}, // not a URL
	}
	for _, c := range cases {
		err := p.check(originRequest("gw.local:8080", c.origin))
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrOriginNotAllowed)) {
			t.Errorf("Origin %q: %v, want allowed=%v", c.origin, err, c.ok)
		}
	}
	if _, err := newOriginPolicy([]string{"["}); err == nil {
		t.Error("bad pattern accepted")
	}
}

// acceptAllows reports whether coder/websocket's Accept lets r's Origin
// through: a recorder cannot be hijacked, so an allowed origin gets 501
// and a refused one 403.
func acceptAllows(r *http.Request, patterns []string) bool {
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	w := httptest.NewRecorder()
	_, _ = websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: patterns})
	return w.Code != http.StatusForbidden
}

// FuzzOriginPolicy checks that the Socket.IO listener's rule is the legacy
// listener's: the policy decides as coder/websocket's Accept does.
func FuzzOriginPolicy(f *testing.F) {
	f.Add("gw.local:8080", "http://gw.local:8080", "*.example.com")
	f.Add("gw.local:8080", "https://app.example.com", "*.example.com")
	f.Add("gw.local", "https://Secure.test", "HTTPS://secure.test")
	f.Add("gw.local", "null", "*")
	f.Add("gw.local", "http://[::1]:80", "[::1]:*")
	f.Add("gw.local", "", "x")
	f.Add("gw.local", "%zz", "*")
	f.Fuzz(func(t *testing.T, host, origin, pattern string) {
		if _, err := path.Match(pattern, ""); err != nil || pattern == "" {
			t.Skip() // config validation refuses it
		}
		p, err := newOriginPolicy([]string{pattern})
		if err != nil {
			t.Fatalf("valid pattern %q refused: %v", pattern, err)
		}
		r := originRequest("gw.local", origin)
		r.Host = host
		ours := p.check(r)
		if theirs := acceptAllows(r, []string{pattern}); (ours == nil) != theirs {
			t.Fatalf("host %q origin %q pattern %q: ours %v, Accept allows=%v", host, origin, pattern, ours, theirs)
		}
	})
}
