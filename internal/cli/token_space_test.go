package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestTokenWithSurroundingWhitespace: a token read with its trailing
// newline (BATON_ADMIN_TOKEN from a Kubernetes secret, --token "$(cat
// file)" of a file with CRLF) is the token: the API trims the one a
// request presents, and a gateway refuses a configured token with
// whitespace around it, so the CLI sends it trimmed rather than failing
// with "invalid header field value for \"Authorization\"" before any
// request is made. A token of whitespace alone is no token.
func TestTokenWithSurroundingWhitespace(t *testing.T) {
	srv, _, _ := adminServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct{ env, flag string }{
		{env: cliToken + "\n"},
		{env: " " + cliToken + "\r\n"},
		{flag: cliToken + "\r\n"},
	} {
		t.Setenv(TokenEnv, tc.env)
		args := []string{"rollout", "status", "--admin", srv.URL}
		if tc.flag != "" {
			args = append(args, "--token", tc.flag)
		}
		if out, err := baton(ctx, args...); err != nil || !strings.Contains(out, "idle") {
			t.Errorf("env %q, --token %q: %v %q; want the status", tc.env, tc.flag, err, out)
		}
	}
	t.Setenv(TokenEnv, " \n")
	if _, err := baton(ctx, "rollout", "status", "--admin", srv.URL); err == nil || !strings.Contains(err.Error(), "no admin token") {
		t.Errorf("a token of whitespace: %v, want no admin token", err)
	}
}
