package sio

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// TestOfficialClient runs the official socket.io-client (npm 4.8.1) against
// the echo server on each transport: it is the judge of wire compatibility.
func TestOfficialClient(t *testing.T) {
	node, dir := testenv.Node(t)
	script, err := filepath.Abs("testdata/official_client.js")
	if err != nil {
		t.Fatal(err)
	}
	ts := echoServer(t, Config{})
	n := ts.srv.Of("/")
	n.On("ask-me", func(s *Socket, _ *Event) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a, err := s.EmitWithAck(ctx, "question", []byte(`"life"`))
			if err == nil && len(a.Args) == 1 {
				_ = s.Emit("confirmed", a.Args[0])
			}
		}()
	})
	n.On("kick-me", func(s *Socket, _ *Event) { s.Disconnect() })

	for _, transport := range []string{"websocket", "polling", "upgrade"} {
		t.Run(transport, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, script, strings.TrimSuffix(ts.url, "/socket.io/"), transport)
			cmd.Dir = dir
			cmd.Env = append(cmd.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "ok") {
				t.Fatalf("official client: %v\n%s", err, out)
			}
		})
	}
}
