package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

var errBackendDown = errors.New("backend down (test)")

// downDialer is a backend that refuses every connection.
type downDialer struct{ protocol config.Protocol }

func (d downDialer) Dial(context.Context, upstream.Handler) (upstream.Conn, error) {
	return nil, errBackendDown
}

func (d downDialer) Protocol() config.Protocol { return d.protocol }

// An official client that connects while the gateway can reach no
// backend connects by itself once one is back, with its own reconnection,
// as it does with a backend that is down. The edge refused its CONNECT
// with CONNECT_ERROR "no backend available": a refusal the official
// client takes as final (a middleware's error), so it never tried again.
func TestE2ENodeClientRetriesWhenNoBackend(t *testing.T) {
	node, dir := testenv.Node(t)
	var blue, green *switchDialer
	e := setupWrapped(t, 0, func(d upstream.Dialer) upstream.Dialer {
		blue = newSwitchDialer(d)
		return blue
	}, func(d upstream.Dialer) upstream.Dialer {
		green = newSwitchDialer(d)
		return green
	})
	f := startFront(t, e, edge.Options{})
	realBlue, realGreen := *blue.d.Load(), *green.d.Load()
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			blue.set(downDialer{realBlue.Protocol()})
			green.set(downDialer{realGreen.Protocol()})
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "retry_client.js"), "--url", "http://"+f.edgeAddr,
				"--user", "retry-"+transport, "--transport", transport)
			cmd.Dir = dir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(out)
			var last map[string]any
			for lines.Scan() {
				var m map[string]any
				if json.Unmarshal(lines.Bytes(), &m) != nil {
					continue
				}
				last = m
				if m["event"] == "refused" {
					t.Logf("first attempt: %v", m["how"])
					blue.set(realBlue)
					green.set(realGreen)
				}
			}
			werr := cmd.Wait()
			if last == nil || last["ok"] != true || werr != nil {
				t.Fatalf("node: %v, last line %v, stderr %s", werr, last, stderr.String())
			}
		})
	}
}
