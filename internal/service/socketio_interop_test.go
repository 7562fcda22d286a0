package service

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestSocketIOOfficialClientScenarios runs the interop scenarios
// (interop/scenario.js, the official socket.io-client 4.8.1) against the
// service in protocol-suite mode, on every transport.
func TestSocketIOOfficialClientScenarios(t *testing.T) {
	node, dir := testenv.Node(t)
	e := startSocketIO(t, SocketIOConfig{
		ProtocolSuite: true,
		// Relaxed from the suites' 300/200 ms: a loaded machine can stall
		// a client longer than that.
		PingInterval:   2 * time.Second,
		PingTimeout:    2 * time.Second,
		ConnectTimeout: 5 * time.Second,
	}, membroker.Options{})
	scenarios := []string{"transport", "acks", "binary", "namespace", "invalid-namespace", "pubsub", "room", "server-disconnect"}
	for _, transport := range []string{"websocket", "polling", "upgrade"} {
		for _, name := range scenarios {
			t.Run(transport+"/"+name, func(t *testing.T) {
				runScenario(t, node, dir, e, name, transport)
			})
		}
	}
}

func runScenario(t *testing.T, node, dir string, e *sioEnv, name, transport string) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "scenario.js"),
		"--url", e.url, "--name", name, "--transport", transport)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		last = line
		var ev struct {
			Event string `json:"event"`
			ID    string `json:"id"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "connected" {
			if s := e.svc.Server().Of("/").Socket(ev.ID); s != nil {
				s.Disconnect()
			} else {
				t.Errorf("no socket %q to disconnect", ev.ID)
			}
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal([]byte(last), &res); jerr != nil || !res.OK || err != nil {
		t.Fatalf("scenario %s on %s: %v\nlast line: %s\nstderr: %s", name, transport, err, last, stderr.String())
	}
}
