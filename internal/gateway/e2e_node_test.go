package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestE2ENodeClient: the official npm socket.io-client, on each transport,
// receives every message exactly once in order through the gateway while
// its session moves blue→green→blue (interop/gateway_client.js).
func TestE2ENodeClient(t *testing.T) {
	node, dir := testenv.Node(t)
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{})
	for _, transport := range []string{"websocket", "polling", "upgrade"} {
		t.Run(transport, func(t *testing.T) {
			const count = 60
			channel := "node-" + transport
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "gateway_client.js"),
				"--url", "http://"+f.edgeAddr, "--user", "node-"+transport, "--channel", channel,
				"--count", strconv.Itoa(count), "--transport", transport)
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
			published := false
			for lines.Scan() {
				var m map[string]any
				if json.Unmarshal(lines.Bytes(), &m) != nil {
					continue
				}
				last = m
				if m["event"] != "subscribed" || published {
					continue
				}
				published = true
				for i := range count {
					if i == count/3 || i == 2*count/3 {
						w := 100.0
						if i == 2*count/3 {
							w = 0
						}
						var res admin.WeightResult
						f.adminJSON(t, "PUT", "/api/v1/weight", `{"weight":`+strconv.FormatFloat(w, 'f', -1, 64)+`}`, 200, &res)
						if res.Failed != 0 {
							t.Errorf("weight %v: %+v", w, res)
						}
					}
					if _, err := e.b.Publish(ctx, channel, []byte(`{"i":`+strconv.Itoa(i)+`}`)); err != nil {
						t.Fatal(err)
					}
				}
			}
			werr := cmd.Wait()
			if last == nil || last["ok"] != true || werr != nil {
				t.Fatalf("node: %v, last line %v, stderr %s", werr, last, stderr.String())
			}
		})
	}
}
