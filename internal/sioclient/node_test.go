package sioclient

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// startNode runs testdata/server.js (the official socket.io server) and
// returns its base URL. env adds variables such as PING_INTERVAL=100. The
// server exits when the test ends (its stdin closes).
func startNode(t testing.TB, env ...string) string {
	t.Helper()
	node, dir := testenv.Node(t)
	cmd := exec.Command(node, filepath.Join("testdata", "server.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		// Wait reads nothing more from stdout: the server prints one line.
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case s := <-line:
		port, ok := strings.CutPrefix(strings.TrimSpace(s), "PORT ")
		if !ok {
			t.Fatalf("node server: unexpected first line %q", s)
		}
		return "http://127.0.0.1:" + port + "/socket.io/"
	case <-time.After(15 * time.Second):
		t.Fatal("node server did not start within 15s")
		return ""
	}
}

// testOptions returns options for transport tr with a private HTTP client
// whose idle keep-alive connections are closed when the test ends (goleak
// would see their goroutines otherwise).
func testOptions(t testing.TB, tr Transport) Options {
	t.Helper()
	ht := &http.Transport{}
	t.Cleanup(ht.CloseIdleConnections)
	return Options{Transport: tr, HTTPClient: &http.Client{Transport: ht}}
}

// dial connects a client to url and joins "/", closing both at test end.
func dial(t testing.TB, url string, opts Options) (*Client, *Socket) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := c.Connect(ctx, "/", nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return c, s
}

// nextEvent reads the next event named name from s, skipping others.
func nextEvent(t testing.TB, s *Socket, name string) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %q: %v", name, s.Err())
			}
			if ev.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event within 10s", name)
		}
	}
}

var allTransports = []Transport{WebSocket, PollingOnly, Polling}
