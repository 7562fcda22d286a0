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
	var (
		mu      sync.Mutex
		armed   bool
		held    = make(chan struct{})
		release = make(chan struct{})
	)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
	t.Cleanup(px.Close)

	sockets := make(chan *Socket, 1)
	ts.srv.Of("/").OnConnect(func(s *Socket) {
		mu.Lock()
		armed = true // the GET after the one that carries the CONNECT's answer
		mu.Unlock()
		sockets <- s
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, px.URL)
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
	case <-held:
	case <-ctx.Done():
		t.Fatal("no GET reached the proxy")
	}
	so.Close() // its next GET is held: none is outstanding at the server
	close(release)
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("official client: %v\n%s", err, out.String())
	}
}
