package gateway_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// The official client keeps its session while one of its requests waits
// on a slow backend for longer than the heartbeat allows: the client
// closes a connection on which no ping came for pingInterval + pingTimeout
// ("ping timeout", and it reconnects). The edge handles a client's
// requests on the connection's reader, which reads no pong while one
// waits, and pinged again only PingInterval after it read the pong: the
// client got no ping for as long as the request waited and closed the
// connection.
func TestE2ESlowRequestKeepsTheHeartbeat(t *testing.T) {
	node, dir := testenv.Node(t)
	srv, err := sio.NewServer(sio.Config{}) // no handler: "never" is never answered
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").On("echo", func(_ *sio.Socket, e *sio.Event) { _ = e.Ack(e.Args...) })
	url := backendtest.ServeSIO(t, srv)
	e := setupWrapped(t, router.Full, nil, func(upstream.Dialer) upstream.Dialer {
		return &upstream.SocketIODialer{Options: upstream.Options{URL: url}}
	})
	f := startFront(t, e, edge.Options{
		Edge:           config.Edge{PingInterval: time.Second, PingTimeout: time.Second},
		RequestTimeout: 6 * time.Second,
	})
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "slow_request_client.js"), "--url", "http://"+f.edgeAddr,
				"--user", "slow-"+transport, "--transport", transport)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
		})
	}
}
