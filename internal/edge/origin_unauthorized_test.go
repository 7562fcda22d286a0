package edge_test

import (
	"net/http"
	"testing"
)

// TestSocketIOUnauthorizedIsReadableCrossOrigin: a long-polling handshake
// from an allowed origin that carries no user key is refused with 401,
// and the refusal carries the CORS headers that config.md promises every
// long-polling answer to an allowed origin, as the Node server's refusals
// do (its cors middleware runs before allowRequest): a browser page can
// then read the 401 and tell it from a network failure (the official
// client's connect_error has it as its context). It came without them,
// so the browser hid it behind a CORS error.
func TestSocketIOUnauthorizedIsReadableCrossOrigin(t *testing.T) {
	_, _, addr := startOriginEdge(t)
	c := httpClient(t)
	status, h, body := call(t, c, http.MethodGet, "http://"+addr+"/socket.io/?EIO=4&transport=polling", goodOrigin, "")
	if status != http.StatusUnauthorized {
		t.Fatalf("handshake without a user key: %d %s, want 401", status, body)
	}
	if got := h.Get("Access-Control-Allow-Origin"); got != goodOrigin || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("401 to an allowed origin: Access-Control-Allow-Origin %q, Access-Control-Allow-Credentials %q, want %q and true",
			got, h.Get("Access-Control-Allow-Credentials"), goodOrigin)
	}
}
