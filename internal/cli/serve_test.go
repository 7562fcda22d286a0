package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/service"
	"github.com/baton-rt/baton/internal/testenv"
)

// startServe runs `baton serve args...` in-process until the returned
// stop is called; it returns the "name listening on URL" lines by name
// (legacy: ws://…/ws, socketio: http://…/socket.io/, pprof: http://…).
func startServe(t *testing.T, args ...string) (urls map[string]string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	root := newRoot()
	root.SetArgs(append([]string{"serve"}, args...))
	root.SetOut(pw)
	root.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		pw.CloseWithError(errors.New("serve ended"))
		done <- err
	}()

	urls = make(map[string]string)
	joined := strings.Join(args, " ")
	want := strings.Count(joined, "--legacy") + strings.Count(joined, "--socketio") + strings.Count(joined, "--pprof")
	line := regexp.MustCompile(`^(\w+) listening on ((?:http|ws)://\S+)$`)
	sc := bufio.NewScanner(pr)
	for len(urls) < want && sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			urls[m[1]] = m[2]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if len(urls) < want {
		cancel()
		t.Fatalf("serve printed %v, then: %v", urls, <-done)
	}
	return urls, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return nil
		}
	}
}

func TestServeLegacyRoundTrip(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	urls, stop := startServe(t, "--legacy", "127.0.0.1:0", "--drain", "100ms")
	roundTrip(t, urls["legacy"])
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

func TestServeBothWithRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	urls, stop := startServe(t, "--legacy", "127.0.0.1:0", "--socketio", "127.0.0.1:0",
		"--broker", "redis://"+addr+"/0", "--drain", "100ms")
	roundTrip(t, urls["legacy"])

	// The Socket.IO listener answers an Engine.IO polling handshake.
	resp, err := http.Get(urls["socketio"] + "?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), `0{"sid":`) {
		t.Fatalf("socket.io handshake: %d %q", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

// roundTrip subscribes, publishes over WebSocket and HTTP, receives both,
// and checks the drain on shutdown is left to the caller. wsURL is the
// legacy service's ws://…/ws.
func roundTrip(t *testing.T, wsURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := legacyclient.Dial(ctx, wsURL, legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	channel := "serve-test-" + c.Session() // unique, in case Redis is shared
	if _, err := c.Subscribe(ctx, channel, nil); err != nil {
		t.Fatal(err)
	}
	if seq, err := c.Publish(ctx, channel, []byte(`{"hello":"world"}`)); err != nil || seq != 1 {
		t.Fatalf("Publish = %d, %v", seq, err)
	}
	api := "http" + strings.TrimPrefix(strings.TrimSuffix(wsURL, "/ws"), "ws") + "/api/v1/publish"
	resp, err := http.Post(api, "application/json", strings.NewReader(`{"channel":"`+channel+`","data":[2]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"seq":2}` {
		t.Fatalf("HTTP publish: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`{"hello":"world"}`, `[2]`} {
		select {
		case m := <-c.Messages():
			if string(m.Data) != want {
				t.Fatalf("got %s, want %s", m.Data, want)
			}
		case <-ctx.Done():
			t.Fatal("no message")
		}
	}
}

func TestServeShutdownClosesClientsWith1001(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	urls, stop := startServe(t, "--legacy", "127.0.0.1:0", "--drain", "100ms")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := legacyclient.Dial(ctx, urls["legacy"], legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	<-c.Done()
	if code := websocket.CloseStatus(c.Err()); code != websocket.StatusGoingAway {
		t.Fatalf("client ended with %v, want 1001", c.Err())
	}
}

func TestServePprof(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	urls, stop := startServe(t, "--legacy", "127.0.0.1:0", "--pprof", "127.0.0.1:0", "--drain", "100ms")
	// scripts/bench.sh forces a GC through this URL before memory readings.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(urls["pprof"], "/debug/pprof/")+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("pprof at %q: %v", urls["pprof"], err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Errorf("heap profile: status %d, %d bytes", resp.StatusCode, len(body))
	}
	roundTrip(t, urls["legacy"])
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestServeFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--legacy", "127.0.0.1:0", "--broker", "nats://x"},
		{"--legacy", "127.0.0.1:0", "--queue-bytes", "1024", "--max-message-bytes", "4096"},
		{"--legacy", "127.0.0.1:0", "--history", "-1"},
		{"--legacy", "256.0.0.1:99999"},
		{"--legacy", "127.0.0.1:0", "--pprof", "0.0.0.0:0"}, // pprof is loopback only
		{"--legacy", "127.0.0.1:0", "--pprof", "nohost"},
	} {
		root := newRoot()
		root.SetArgs(append([]string{"serve"}, args...))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := root.ExecuteContext(ctx); err == nil {
			t.Errorf("serve %v: want an error", args)
		}
		cancel()
	}
}

// An idle keep-alive HTTP connection to a service is closed after
// --idle-timeout.
func TestServeClosesIdleConnections(t *testing.T) {
	urls, stop := startServe(t, "--socketio", "127.0.0.1:0", "--idle-timeout", "300ms", "--drain", "100ms")
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()
	conn := dialTCP(t, urls["socketio"])
	fmt.Fprintf(conn, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n") // any answer keeps it alive
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("an idle connection read %v, want EOF (closed by the server)", err)
	}
}

// A request to a service that announces a body and never sends it (a
// publish, or anything the service refuses without reading it) is cut
// off after serveReadTimeout instead of holding its connection for good:
// --idle-timeout does not apply while a request is under way.
func TestServeCutsOffStalledRequestBody(t *testing.T) {
	urls, stop := startServe(t, "--legacy", "127.0.0.1:0", "--socketio", "127.0.0.1:0", "--drain", "100ms")
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()
	var wg sync.WaitGroup
	for name, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{service.PublishPath, "/nothing"} {
			wg.Go(func() {
				conn, err := net.Dial("tcp", u.Host)
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", path)
				_ = conn.SetReadDeadline(time.Now().Add(2 * serveReadTimeout))
				if _, err := bufio.NewReader(conn).ReadString('\n'); errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("%s: POST %s whose body never comes: no answer and the connection still open after %v", name, path, 2*serveReadTimeout)
				}
			})
		}
	}
	wg.Wait()
}

// TestServePrintsGatewayConfigURLs: the URLs serve prints are those a
// gateway config takes as backends.<color>.url: ws://…/ws for the legacy
// service (a legacy backend's URL must be ws:// or wss://), and
// http://…/socket.io/ for the Socket.IO one.
func TestServePrintsGatewayConfigURLs(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	urls, stop := startServe(t, "--legacy", "127.0.0.1:0", "--socketio", "127.0.0.1:0", "--drain", "100ms")
	defer func() { _ = stop() }()
	yml := fmt.Sprintf(`admin: {token: t}
backends:
  blue:  {url: %q, protocol: legacy}
  green: {url: %q, protocol: socketio}
`, urls["legacy"], urls["socketio"])
	if _, err := config.Parse([]byte(yml)); err != nil {
		t.Fatalf("serve printed legacy %s, socketio %s; as a gateway config: %v", urls["legacy"], urls["socketio"], err)
	}
	if !strings.HasPrefix(urls["legacy"], "ws://") || !strings.HasSuffix(urls["legacy"], "/ws") ||
		!strings.HasPrefix(urls["socketio"], "http://") || !strings.HasSuffix(urls["socketio"], "/socket.io/") {
		t.Fatalf("serve printed legacy %s, socketio %s", urls["legacy"], urls["socketio"])
	}
}

// A connection that has sent no request yet has nothing to drain: the
// shutdown closes it rather than wait for net/http to count it idle (5 s),
// which is past serve's own deadline (--drain + 5 s).
func TestServeShutdownNotHeldByAConnectionThatSentNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	urls, stop := startServe(t, "--socketio", "127.0.0.1:0", "--drain", "100ms")
	dialTCP(t, urls["socketio"]) // held open, sending nothing
	// Answered on another connection: the server accepted conn first.
	resp, err := http.Get(urls["socketio"] + "?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()

	began := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("shutdown took %v with a connection that sent nothing (drain 100ms)", took)
	}
}

// dialTCP opens a bare TCP connection to the host of service URL raw,
// closed when the test ends.
func dialTCP(t *testing.T, raw string) net.Conn {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
