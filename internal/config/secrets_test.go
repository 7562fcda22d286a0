package config

import (
	"strings"
	"testing"
)

const tokenEnvBase = `admin:
  token_env: BATON_TEST_ADMIN_TOKEN
backends:
  blue: {url: "ws://127.0.0.1:1/ws", protocol: legacy}
  green: {url: "http://127.0.0.1:2/socket.io/", protocol: socketio}
rollout:
  store: {kind: memory}
`

// admin.token must not begin or end with whitespace, because the admin API
// trims the token a request presents; the same token read from token_env
// (a secret mounted with its trailing newline, say) would match no request
// and lock every operator out of the admin API, rollbacks included. It is
// refused at startup, naming the field.
func TestAdminTokenEnvWithWhitespaceRefused(t *testing.T) {
	for _, v := range []string{"s3cret\n", " s3cret", "   "} {
		t.Setenv("BATON_TEST_ADMIN_TOKEN", v)
		_, err := Parse([]byte(tokenEnvBase))
		if err == nil || !strings.Contains(err.Error(), "admin.token") {
			t.Errorf("token_env value %q: accepted (err %v); no admin request can ever authenticate", v, err)
		}
	}
}

// identity.jwt written without a value (its fields commented out, or
// "jwt: ~") is refused, rather than silently turning into the
// unauthenticated default identity.query: user, which lets any client pick
// any user key.
func TestEmptyJWTSectionRefused(t *testing.T) {
	t.Setenv("BATON_TEST_ADMIN_TOKEN", "t")
	doc := tokenEnvBase + "identity:\n  jwt:\n  #  hs256_secret_env: BATON_JWT_SECRET\n"
	c, err := Parse([]byte(doc))
	if err == nil {
		t.Fatalf("accepted: identity %+v (JWT dropped, anyone may choose a user key with ?%s=)", c.Identity, c.Identity.Query)
	}
	if !strings.Contains(err.Error(), "identity.jwt") {
		t.Fatalf("error does not name identity.jwt: %v", err)
	}
}
