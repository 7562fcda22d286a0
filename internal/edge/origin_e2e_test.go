package edge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/sioclient"
)

const (
	goodOrigin = "https://app.allowed.test"
	badOrigin  = "https://evil.test"
)

// startOriginEdge serves an edge that allows *.allowed.test besides its
// own host, and returns it with its gateway and host:port.
func startOriginEdge(t *testing.T) (*edge.Server, *gateway.Gateway, string) {
	t.Helper()
	return startEdgeWith(t, edge.Options{
		Edge:        config.Edge{OriginPatterns: []string{"*.allowed.test"}},
		DrainPeriod: time.Millisecond,
	})
}

// httpClient is a client whose connections end with the test.
func httpClient(t *testing.T) *http.Client {
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// call sends one request with origin ("" for none) and returns the status,
// the headers and the body.
func call(t *testing.T, c *http.Client, method, url, origin, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(b)
}

// wantForbidden checks a refusal: 403 with a JSON error naming the origin.
func wantForbidden(t *testing.T, what string, status int, h http.Header, body string) {
	t.Helper()
	var e struct{ Error string }
	if status != http.StatusForbidden || h.Get("Content-Type") != "application/json" ||
		json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, "origin not allowed") {
		t.Errorf("%s: %d %q %s, want 403 with a JSON error", what, status, h.Get("Content-Type"), body)
	}
}

// TestSocketIOOriginAllowed: an allowed origin, the gateway's own host and
// no Origin at all reach the pub/sub API over each transport.
func TestSocketIOOriginAllowed(t *testing.T) {
	ed, _, addr := startOriginEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 0
	for _, tr := range []sioclient.Transport{sioclient.WebSocket, sioclient.PollingOnly, sioclient.Polling} {
		for _, origin := range []string{goodOrigin, "http://" + addr, ""} {
			h := http.Header{}
			if origin != "" {
				h.Set("Origin", origin)
			}
			c, err := sioclient.Dial(ctx, "http://"+addr+edge.SocketIOPath+"?user=u1", sioclient.Options{Transport: tr, Header: h})
			if err != nil {
				t.Fatalf("%v, Origin %q: dial: %v", tr, origin, err)
			}
			so, err := c.Connect(ctx, "/", nil)
			if err != nil {
				t.Fatalf("%v, Origin %q: connect: %v", tr, origin, err)
			}
			if _, err := so.Publish(ctx, "c", []byte(`1`)); err != nil {
				t.Fatalf("%v, Origin %q: publish: %v", tr, origin, err)
			}
			_ = c.Close()
			n++
		}
	}
	if st := ed.Stats(); st.Accepted != uint64(n) || st.OriginRejected != 0 {
		t.Fatalf("stats %+v, want %d accepted and none refused", st, n)
	}
}

// TestSocketIOOriginRefused: a foreign origin gets 403 on the websocket
// and on every polling request, even with a valid sid, and never attaches
// a session; preflights are still answered by the Engine.IO CORS rules.
func TestSocketIOOriginRefused(t *testing.T) {
	ed, g, addr := startOriginEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := httpClient(t)
	base := "http://" + addr + edge.SocketIOPath + "?EIO=4&user=u1&transport="
	refused := uint64(0)

	for _, tr := range []sioclient.Transport{sioclient.WebSocket, sioclient.PollingOnly} {
		c, err := sioclient.Dial(ctx, "http://"+addr+edge.SocketIOPath+"?user=u1", sioclient.Options{
			Transport: tr, Header: http.Header{"Origin": {badOrigin}},
		})
		if err == nil {
			_ = c.Close()
			t.Fatalf("%v: dial from %s succeeded", tr, badOrigin)
		}
		if !strings.Contains(err.Error(), "403") {
			t.Errorf("%v: dial: %v, want a 403", tr, err)
		}
		refused++
	}
	status, h, body := call(t, hc, http.MethodGet, base+"polling", badOrigin, "")
	wantForbidden(t, "polling handshake", status, h, body)
	refused++
	_, res, err := websocket.Dial(ctx, "ws://"+addr+edge.SocketIOPath+"?EIO=4&user=u1&transport=websocket",
		&websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {badOrigin}}})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket handshake: %v %v, want 403", res, err)
	}
	refused++

	// A session opened without Origin cannot be used from a foreign one:
	// neither its CONNECT nor a poll nor an upgrade gets through.
	status, _, body = call(t, hc, http.MethodGet, base+"polling", "", "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake without Origin: %d %s", status, body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.SID == "" {
		t.Fatalf("open packet %s: %v", body, err)
	}
	sess := base + "polling&sid=" + open.SID
	status, h, body = call(t, hc, http.MethodPost, sess, badOrigin, "40")
	wantForbidden(t, "polling POST", status, h, body)
	status, h, body = call(t, hc, http.MethodGet, sess, badOrigin, "")
	wantForbidden(t, "polling GET", status, h, body)
	_, res, err = websocket.Dial(ctx, "ws://"+addr+edge.SocketIOPath+"?EIO=4&user=u1&transport=websocket&sid="+open.SID,
		&websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {badOrigin}}})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket upgrade: %v %v, want 403", res, err)
	}
	refused += 3
	if n := len(g.Sessions()); n != 0 {
		t.Fatalf("%d sessions attached after refusals, want 0", n)
	}
	if st := ed.Stats(); st.OriginRejected != refused || st.Accepted != 0 || st.Unauthorized != 0 {
		t.Fatalf("stats %+v, want %d refused and none accepted", st, refused)
	}

	// Preflights: answered (204, not counted), naming only allowed origins.
	for origin, want := range map[string]string{goodOrigin: goodOrigin, badOrigin: ""} {
		req, _ := http.NewRequest(http.MethodOptions, sess, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != want {
			t.Errorf("preflight from %s: %d %v, want 204 allowing %q", origin, res.StatusCode, res.Header, want)
		}
	}

	// The same session from the allowed origin works, with CORS headers.
	status, h, body = call(t, hc, http.MethodPost, sess, goodOrigin, "40")
	if status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != goodOrigin || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("POST from %s: %d %v %s", goodOrigin, status, h, body)
	}
	status, _, body = call(t, hc, http.MethodGet, sess, goodOrigin, "")
	if status != http.StatusOK || !strings.HasPrefix(body, "40{") {
		t.Fatalf("GET from %s: %d %s, want the CONNECT answer", goodOrigin, status, body)
	}
	if n := len(g.Sessions()); n != 1 {
		t.Fatalf("%d sessions after the allowed CONNECT, want 1", n)
	}
	call(t, hc, http.MethodPost, sess, "", "1") // Engine.IO close
	if st := ed.Stats(); st.OriginRejected != refused || st.Accepted != 1 {
		t.Fatalf("stats %+v, want %d refused and 1 accepted", st, refused)
	}
}

// TestLegacyOriginRefused: the legacy listener refuses a foreign origin
// with the same 403 before attaching, and serves an allowed one.
func TestLegacyOriginRefused(t *testing.T) {
	ed, g, addr := startOriginEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws://" + addr + edge.LegacyPath + "?user=u1"
	_, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {badOrigin}}})
	if err == nil || res == nil {
		t.Fatalf("dial from %s: %v", badOrigin, err)
	}
	b, _ := io.ReadAll(res.Body)
	wantForbidden(t, "legacy", res.StatusCode, res.Header, string(b))
	if n := len(g.Sessions()); n != 0 {
		t.Fatalf("%d sessions attached after the refusal, want 0", n)
	}
	for _, origin := range []string{goodOrigin, "http://" + addr} {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if err != nil {
			t.Fatalf("dial from %s: %v", origin, err)
		}
		if f := read(ctx, t, c); f.Type != "welcome" {
			t.Fatalf("first frame %+v, want welcome", f)
		}
		_ = c.Close(websocket.StatusNormalClosure, "")
	}
	if st := ed.Stats(); st.OriginRejected != 1 || st.Accepted != 2 {
		t.Fatalf("stats %+v, want 1 refused and 2 accepted", st)
	}
}
