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

	"github.com/baton-rt/baton/internal/testenv"
)

// TestOfficialClientServerCloseDuringUpgrade: the official socket.io-client,
// polling and upgrading to WebSocket, whose session the server closes
// after it answered the client's probe and released its poll with a noop,
// before the client's upgrade packet (a proxy in front of the server holds
// that noop back meanwhile): the client, which polls no more once the
// probe succeeded, still gets the DISCONNECT, over the WebSocket it
// upgrades to, reports "io server disconnect" and does not reconnect, as
// with the Node server. The server cut the probing WebSocket at the close,
// and the client either hung, polling paused, or reconnected.
func TestOfficialClientServerCloseDuringUpgrade(t *testing.T) {
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
		mu        sync.Mutex
		connected bool                  // a poll brought the CONNECT's answer
		polling   = make(chan struct{}) // closed at the poll after it
		armed     bool                  // the WebSocket went on to the server
		held      = make(chan struct{})
		release   = make(chan struct{})
	)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("transport") == "websocket" {
			// The upgrade starts once the client has connected and polls
			// again, so that the probe releases that poll with the noop.
			<-polling
			mu.Lock()
			armed = true
			mu.Unlock()
			rp.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet || q.Get("sid") == "" {
			rp.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		if connected {
			connected = false
			close(polling)
		}
		mu.Unlock()
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		body := rec.Body.String()
		mu.Lock()
		if strings.HasPrefix(body, "40") {
			connected = true
		}
		hold := armed && body == "6"
		if hold {
			armed = false
		}
		mu.Unlock()
		if hold {
			close(held)
			<-release
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(px.Close)

	sockets := make(chan *Socket, 1)
	ts.srv.Of("/").OnConnect(func(s *Socket) { sockets <- s })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, px.URL, "upgrade")
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
		t.Fatal("no poll was released for the upgrade")
	}
	so.Close() // the client polls no more: the DISCONNECT must go over the WebSocket
	close(release)
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("official client: %v\n%s", err, out.String())
	}
}
