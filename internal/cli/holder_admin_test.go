package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRefusedByAFollowerSuggestsTheHoldersAdmin: a command sent to a
// gateway that follows another's rollout is refused (409); the CLI says
// which --admin reaches the holder, from the answer's holder_admin, so
// that the operator can send it there in one step.
func TestRefusedByAFollowerSuggestsTheHoldersAdmin(t *testing.T) {
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":"this gateway follows the rollout another gateway runs: send it to the gateway holding rollout.store, \"gw-a pid 1 admin 10.0.0.5:9090\"",` +
			`"state":"shifting","holder":"gw-a pid 1 admin 10.0.0.5:9090","holder_admin":"http://10.0.0.5:9090"}`))
	}))
	defer follower.Close()
	for _, args := range [][]string{{"rollout", "pause"}, {"weight", "set", "50"}} {
		_, err := baton(context.Background(), append(args, "--admin", follower.URL, "--token", cliToken)...)
		if err == nil || !strings.Contains(err.Error(), "--admin http://10.0.0.5:9090") {
			t.Errorf("%s refused by a follower: %v, want --admin http://10.0.0.5:9090 suggested", strings.Join(args, " "), err)
		}
	}
}
