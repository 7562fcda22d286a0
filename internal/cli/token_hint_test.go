package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestTokenHintOnlyForARefusedToken: every command that a gateway answers
// 401 points at --token and BATON_ADMIN_TOKEN, not watch alone; and no
// command does for another 4xx, such as the 404 of an --admin URL that is
// not the admin API (the edge listener, a path prefix), where checking
// the token would send the operator the wrong way.
func TestTokenHintOnlyForARefusedToken(t *testing.T) {
	srv, _, _ := adminServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const hint = "check --token or " + TokenEnv
	for _, args := range [][]string{
		{"rollout", "status"},
		{"rollout", "pause"},
		{"weight", "set", "10"},
		{"rollout", "watch", "--reconnect-for", "5s"},
	} {
		_, err := baton(ctx, append(args, "--admin", srv.URL, "--token", "wrong")...)
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), hint) {
			t.Errorf("%v with a wrong token: %v, want the 401 and %q", args, err, hint)
		}
		_, err = baton(ctx, append(args, "--admin", srv.URL+"/nope", "--token", cliToken)...)
		if err == nil || !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "--token") {
			t.Errorf("%v on a URL that is no admin API: %v, want the 404 without a word of the token", args, err)
		}
	}
}
