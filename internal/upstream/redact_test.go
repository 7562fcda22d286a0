package upstream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// TestDialErrorHidesURLPassword: a backend URL may carry credentials
// (ws://user:password@host/…, sent as basic auth). A failed dial or
// handshake is reported in the logs, in GET /api/v1/status's last_error,
// in a rollout's reason and in alerts: the password must be in none of
// them, while the backend stays recognisable.
func TestDialErrorHidesURLPassword(t *testing.T) {
	const password = "hunter2-not-for-logs"
	withCreds := func(url string) string {
		scheme, rest, _ := strings.Cut(url, "://")
		return scheme + "://bob:" + password + "@" + rest
	}
	for _, tc := range backends {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 20*time.Second)
			be := tc.start(t, newBroker(t))
			cfg := be.Config()
			cfg.URL = withCreds(cfg.URL)
			if cfg.Protocol == config.ProtocolSocketIO {
				cfg.Namespace = "/no-such-namespace" // the handshake fails after the dial
			}
			check := func(what string, cfg config.Backend) {
				d, err := upstream.NewDialer(cfg, 0)
				if err != nil {
					t.Fatal(err)
				}
				c, err := d.Dial(ctx, newRecorder())
				if err == nil {
					_ = c.Close()
					t.Fatalf("%s: dial succeeded", what)
				}
				if msg := err.Error(); strings.Contains(msg, password) || !strings.Contains(msg, "bob:") {
					t.Errorf("%s: error %q shows the password, or not the backend", what, msg)
				}
			}
			if cfg.Protocol == config.ProtocolSocketIO {
				check("refused namespace", cfg)
			}
			be.Kill()
			check("refused connection", cfg)
		})
	}
}
