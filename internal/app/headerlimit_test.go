package app

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A Socket.IO session keeps its handshake's headers until its CONNECT, so
// the edge bounds them (edge.max_header_bytes): a handshake with headers
// past the bound is refused with 431 before it reaches the edge, and one
// within it is served.
func TestEdgeRefusesOversizedHeaders(t *testing.T) {
	blue, green := testBackends(t)
	cfg := testConfig(blue, green, "")
	cfg.Edge.MaxHeaderBytes = 8 << 10
	a := start(t, cfg, Options{})

	handshake := func(headerBytes int) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/socket.io/?EIO=4&transport=polling&user=u", a.EdgeAddr()), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Padding", strings.Repeat("p", headerBytes))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	// Go's server reads up to 4 KiB past the bound before refusing.
	if code := handshake(16 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("handshake with 16 KiB of headers (bound 8 KiB): %d, want 431", code)
	}
	if code := handshake(4 << 10); code != http.StatusOK {
		t.Errorf("handshake with 4 KiB of headers (bound 8 KiB): %d, want 200", code)
	}
}
