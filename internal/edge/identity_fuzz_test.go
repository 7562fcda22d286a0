package edge

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/baton-rt/baton/internal/config"
)

// FuzzIdentityJWT feeds the JWT identity arbitrary Authorization headers,
// query tokens and auth tokens, next to a token it signed itself around an
// arbitrary claim. Whatever comes, User answers a user or an error matching
// ErrNoIdentity or ErrBadToken, never a panic; a token it did not sign never
// yields a user; and the token it signed yields exactly its claim (when a
// non-empty string, and not expired), wherever the request carries it.
func FuzzIdentityJWT(f *testing.F) {
	f.Add("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "", "", "alice", uint8(0), false)
	f.Add("bearer   ", "eyJhbGciOiJub25lIn0.eyJ1aWQiOiJtYWxsb3J5In0.", "", "bob", uint8(1), false)
	f.Add("Basic dXNlcjpwdw==", "", "not.a.jwt", "", uint8(2), true)
	f.Add("Bearer", "..", "eyJhbGciOiJIUzI1NiJ9..", "ü\x00\"", uint8(3), false)
	f.Add("", "", "", "carol", uint8(4), true)
	const secret = "fuzz-secret"
	id, err := NewIdentifier(config.Identity{JWT: &config.JWT{Claim: "uid", Query: "token", HS256Secret: secret}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, authz, query, auth, claim string, where uint8, expired bool) {
		// Untrusted input alone.
		h := http.Header{"Authorization": {authz}}
		q := url.Values{"token": {query}}
		u, err := id.User(h, q, auth)
		switch {
		case err == nil:
			t.Fatalf("unsigned input (%q, %q, %q) identified as %q", authz, query, auth, u)
		case !errors.Is(err, ErrNoIdentity) && !errors.Is(err, ErrBadToken):
			t.Fatalf("(%q, %q, %q): error %v matches neither ErrNoIdentity nor ErrBadToken", authz, query, auth, err)
		}
		_ = id.HasToken(h, q)

		// A token it signed, in one of the three places (the others empty).
		exp := time.Now().Add(time.Hour)
		if expired {
			exp = time.Now().Add(-time.Hour)
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"uid": claim, "exp": exp.Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		h, q, auth = http.Header{}, url.Values{}, ""
		switch where % 3 {
		case 0:
			h.Set("Authorization", "Bearer "+tok)
		case 1:
			q.Set("token", tok)
		case 2:
			auth = tok
		}
		// The claim as the token carries it (JSON makes bad UTF-8 U+FFFD).
		var want string
		if b, err := json.Marshal(claim); err != nil || json.Unmarshal(b, &want) != nil {
			t.Fatal(claim)
		}
		u, err = id.User(h, q, auth)
		switch {
		case claim == "" || expired:
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("claim %q expired=%v: %q, %v; want ErrBadToken", claim, expired, u, err)
			}
		case err != nil || u != want:
			t.Fatalf("claim %q: %q, %v; want %q", claim, u, err, want)
		}
	})
}
