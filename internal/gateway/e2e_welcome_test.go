package gateway_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// welcomingBackend is a Socket.IO backend that greets each socket from its
// connection handler, as many apps do: "welcome" ("hi"), then "hello?"
// asking for an acknowledgement, whose answer it sends back as
// "answered".
func welcomingBackend(t *testing.T) string {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").OnConnect(func(s *sio.Socket) {
		_ = s.Emit("welcome", []byte(`"hi"`))
		p, err := s.EmitAsking("hello?", nil)
		if err != nil {
			t.Errorf("backend: %v", err)
			return
		}
		go func() {
			defer p.Drop()
			ctx, cancel := context.WithTimeout(s.Context(), 20*time.Second)
			defer cancel()
			if a, err := p.Wait(ctx); err == nil && len(a.Args) == 1 {
				_ = s.Emit("answered", a.Args[0])
			}
		}()
	})
	return backendtest.ServeSIO(t, srv)
}

// What a Socket.IO backend emits from its connection handler reaches the
// official client after its "connect", as it does talking to the backend
// directly, and an ack asked for then is bridged. The edge attaches the
// session (dialing the backend, whose handler runs) before it answers the
// client's CONNECT, and the backend's events went out as soon as they
// came: often ahead of the CONNECT answer, so the client handled them
// before "connect", not connected and without an id, and the ask failed.
func TestE2EBackendGreetingFollowsConnect(t *testing.T) {
	node, dir := testenv.Node(t)
	f := frontOnSIOBackend(t, welcomingBackend(t))
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "welcome_client.js"), "--url", "http://"+f.edgeAddr,
				"--user", "welcomed-"+transport, "--count", "10", "--transport", transport)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
		})
	}
}
