package edge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/upstream"
)

// TestPlainRequestDialsNoBackend: a request to /ws that is no WebSocket
// upgrade (a browser opening the URL, a health check, a scanner) gets a
// clear refusal, and no backend is dialed for it: a backend's connection
// handler would run for every such request.
func TestPlainRequestDialsNoBackend(t *testing.T) {
	var dials atomic.Int64
	count := func(d upstream.Dialer) upstream.Dialer { return countDials{d, &dials} }
	_, _, addr := startEdgeDialing(t, edge.Options{DrainPeriod: time.Millisecond}, nil, count)
	for _, tc := range []struct {
		name   string
		method string
		header map[string]string
		status int
	}{
		{"plain GET", http.MethodGet, nil, http.StatusUpgradeRequired},
		{"POST", http.MethodPost, nil, http.StatusMethodNotAllowed},
		{"no key", http.MethodGet, map[string]string{"Connection": "keep-alive, Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}, http.StatusBadRequest},
		{"old version", http.MethodGet, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), tc.method, "http://"+addr+edge.LegacyPath+"?user=someone", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != tc.status || body.Error == "" {
				t.Errorf("status %d, body %+v (%v); want %d with an error", resp.StatusCode, body, err, tc.status)
			}
			if n := dials.Load(); n != 0 {
				t.Errorf("%d backend dials for a request that is no upgrade", n)
			}
		})
	}
	// A real upgrade still dials.
	c := dialPubSubWith(context.Background(), t, http.DefaultClient, addr, "someone", false)
	c.subscribe(context.Background(), t, "a")
	if n := dials.Load(); n != 1 {
		t.Errorf("%d backend dials for one client, want 1", n)
	}
}

// countDials counts the dials of a backend.
type countDials struct {
	upstream.Dialer
	n *atomic.Int64
}

func (d countDials) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	d.n.Add(1)
	return d.Dialer.Dial(ctx, h)
}
