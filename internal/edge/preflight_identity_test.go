package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
)

// TestSocketIOPreflightNeedsNoIdentity: a browser on an allowed origin
// that sends its user key in identity.header (socket.io-client's
// extraHeaders, polling) first sends a CORS preflight of the handshake,
// which carries no such header: it is answered 204, not refused as
// unidentified, and the handshake that follows is still identified.
func TestSocketIOPreflightNeedsNoIdentity(t *testing.T) {
	ed, g, addr := startEdgeWith(t, edge.Options{
		Identity:    config.Identity{Header: "X-User"},
		Edge:        config.Edge{OriginPatterns: []string{"*.allowed.test"}},
		DrainPeriod: time.Millisecond,
	})
	hc := httpClient(t)
	handshake := "http://" + addr + edge.SocketIOPath + "?EIO=4&transport=polling"

	req, err := http.NewRequest(http.MethodOptions, handshake, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", goodOrigin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "x-user")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != goodOrigin ||
		!strings.EqualFold(res.Header.Get("Access-Control-Allow-Headers"), "x-user") {
		t.Fatalf("preflight of the handshake: %d %v, want 204 allowing %s and x-user", res.StatusCode, res.Header, goodOrigin)
	}
	if st := ed.Stats(); st.Unauthorized != 0 {
		t.Fatalf("stats %+v: a preflight counted as unauthorized", st)
	}

	// The handshake itself is identified as before.
	status, _, body := call(t, hc, http.MethodGet, handshake, goodOrigin, "")
	if status != http.StatusUnauthorized {
		t.Fatalf("handshake without X-User: %d %s, want 401", status, body)
	}
	req, _ = http.NewRequest(http.MethodGet, handshake, nil)
	req.Header.Set("Origin", goodOrigin)
	req.Header.Set("X-User", "u1")
	res, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("handshake with X-User: %d, want 200", res.StatusCode)
	}
	if st := ed.Stats(); st.Unauthorized != 1 {
		t.Fatalf("stats %+v, want 1 unauthorized", st)
	}
	if n := len(g.Sessions()); n != 0 {
		t.Fatalf("%d sessions before any CONNECT", n)
	}
}
