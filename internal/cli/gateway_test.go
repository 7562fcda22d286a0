package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGatewayBadConfigNamesField(t *testing.T) {
	for name, tc := range map[string]struct{ body, field string }{
		"missing token": {"listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\nbackends:\n  blue: {url: ws://127.0.0.1:1/ws, protocol: legacy}\n  green: {url: http://127.0.0.1:2/socket.io/, protocol: socketio}\n", "admin.token"},
		"bad protocol":  {"admin: {token: x}\nbackends:\n  blue: {url: ws://127.0.0.1:1/ws, protocol: grpc}\n  green: {url: http://127.0.0.1:2/socket.io/, protocol: socketio}\n", "backends.blue.protocol"},
		"unknown field": {"admin: {tokn: x}\n", "admin.tokn"},
	} {
		t.Run(name, func(t *testing.T) {
			root := newRoot()
			root.SetArgs([]string{"gateway", "--config", writeConfig(t, tc.body)})
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want one naming %s", err, tc.field)
			}
		})
	}
	root := newRoot()
	root.SetArgs([]string{"gateway", "--config", filepath.Join(t.TempDir(), "absent.yaml")})
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	if err := root.ExecuteContext(context.Background()); err == nil {
		t.Fatal("a missing config file was accepted")
	}
}

// TestGatewayCommand runs `baton gateway` over both reference services: a
// legacy client subscribes and publishes through it, the admin API
// answers, and cancelation drains it.
func TestGatewayCommand(t *testing.T) {
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	blue, green := backendtest.Legacy(t, b), backendtest.SocketIO(t, b)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
admin: {listen: %q, token: secret}
backends:
  blue: {url: %q, protocol: legacy}
  green: {url: %q, protocol: socketio}
rollout: {store: {kind: memory}}
log: {level: error}
`, testenv.FreeAddr(t), blue.URL, green.URL)

	edge, adminURL, stop := startGateway(t, cfg)

	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	c, err := legacyclient.Dial(rctx, "ws://"+edge+"/ws?user=alice", legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(rctx, "news", nil); err != nil {
		t.Fatal(err)
	}
	seq, err := c.Publish(rctx, "news", []byte(`"hi"`))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-c.Messages():
		if m.Seq != seq || string(m.Data) != `"hi"` {
			t.Errorf("got %+v, want seq %d", m, seq)
		}
	case <-rctx.Done():
		t.Fatal("no message")
	}

	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, adminURL+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"sessions":{"blue":1,"green":0`) {
		t.Errorf("status %d %s", resp.StatusCode, body)
	}

	if err := stop(); err != nil {
		t.Fatalf("gateway: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Error("client not closed by the drain")
	}
}
