package sio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/testenv"
)

// quietHeartbeat keeps the pings out of the way of a test's polls.
var quietHeartbeat = eio.Config{PingInterval: time.Minute, PingTimeout: time.Minute}

// TestPollingServerCloseBetweenPolls: a polling client whose session the
// server closes while it has no GET outstanding gets, on its next GET,
// what was queued (the DISCONNECT), and the next GET the close packet, as
// from the Node server (not 400 "Session ID unknown", and not both in one
// payload, see TestOfficialClientServerCloseBetweenPolls); the sid is gone
// after that.
func TestPollingServerCloseBetweenPolls(t *testing.T) {
	ts := echoServer(t, Config{Engine: quietHeartbeat})
	sockets := make(chan *Socket, 1)
	ts.srv.Of("/").OnConnect(func(s *Socket) { sockets <- s })
	status, body := httpDo(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	if status != 200 {
		t.Fatal(status)
	}
	sid := body[strings.Index(body, `"sid":"`)+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	u := ts.url + "?EIO=4&transport=polling&sid=" + sid
	httpDo(t, "POST", u, "40")
	if _, got := httpDo(t, "GET", u, ""); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("connect payload %q", got)
	}
	(<-sockets).Close() // no GET outstanding
	for _, want := range []string{"41", "1"} {
		if status, got := httpDo(t, "GET", u, ""); status != 200 || got != want {
			t.Fatalf("poll after the server's close: %d %q, want 200 %q", status, got, want)
		}
	}
	if status, _ := httpDo(t, "GET", u, ""); status != 400 {
		t.Fatalf("poll after the close packet: %d, want 400", status)
	}
}

// TestOfficialClientServerCloseBetweenPolls: the official socket.io-client
// on long-polling, with reconnection on, whose session the server closes
// while its next GET is held back (by a proxy in front of the server):
// that GET brings it the DISCONNECT, so it reports "io server disconnect"
// and does not reconnect.
func TestOfficialClientServerCloseBetweenPolls(t *testing.T) {
	var (
		mu    sync.Mutex
		armed bool
	)
	held, release := make(chan struct{}), make(chan struct{})
	runServerClose(t, serverCloseRun{
		proxy: func(rp *httputil.ReverseProxy) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hold := armed && r.Method == http.MethodGet && r.URL.Query().Get("sid") != ""
				if hold {
					armed = false
				}
				mu.Unlock()
				if hold {
					close(held)
					<-release
				}
				rp.ServeHTTP(w, r)
			}
		},
		onConnect: func() {
			mu.Lock()
			armed = true // the GET after the one that carries the CONNECT's answer
			mu.Unlock()
		},
		held: held, heldWhat: "no GET reached the proxy", release: release,
	})
}

// serverCloseRun is one run of testdata/official_server_close.js against
// an echo server behind a proxy that holds a request back.
type serverCloseRun struct {
	// proxy answers the client's requests, through rp to the server; it
	// closes held once it holds back the request the test is about, and
	// lets it go when release is closed.
	proxy     func(rp *httputil.ReverseProxy) http.HandlerFunc
	onConnect func() // at the socket's connection, if set
	held      <-chan struct{}
	heldWhat  string // the failure when nothing is held
	release   chan struct{}
	args      []string // the script's arguments after the URL
}

// runServerClose runs the official client as r says, closes its socket
// on the server while the proxy holds a request back (none is then
// outstanding at the server), releases it, and expects the script's "ok".
func runServerClose(t *testing.T, r serverCloseRun) {
	t.Helper()
	node, dir := testenv.Node(t)
	script, err := filepath.Abs("testdata/official_server_close.js")
	if err != nil {
		t.Fatal(err)
	}
	ts := echoServer(t, Config{Engine: quietHeartbeat})
	target, err := url.Parse(ts.url)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	px := httptest.NewServer(r.proxy(rp))
	t.Cleanup(px.Close)

	sockets := make(chan *Socket, 1)
	ts.srv.Of("/").OnConnect(func(s *Socket) {
		if r.onConnect != nil {
			r.onConnect()
		}
		sockets <- s
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script, px.URL}, r.args...)...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var so *Socket
	select {
	case so = <-sockets:
	case <-ctx.Done():
		t.Fatal("the client did not connect")
	}
	select {
	case <-r.held:
	case <-ctx.Done():
		t.Fatal(r.heldWhat)
	}
	so.Close()
	close(r.release)
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("official client: %v\n%s", err, out.String())
	}
}
