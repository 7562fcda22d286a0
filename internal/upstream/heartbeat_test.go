package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/upstream"
)

// heartbeatOptions is a short heartbeat, over each way the driver dials:
// its own wsconn.Client, and coder/websocket through an http.Client.
func heartbeatOptions(url string, hc *http.Client) upstream.Options {
	return upstream.Options{URL: url, HTTPClient: hc, PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond}
}

var dialVias = []struct {
	name string
	hc   *http.Client
}{{"wsconn.Client", nil}, {"http.Client", &http.Client{}}}

// pingBackend is a legacy backend that sends its welcome, then reads and
// drops whatever comes (when it reads at all), counting the WebSocket
// Pings among it.
type pingBackend struct {
	url    string
	pings  atomic.Int64
	pinged chan struct{} // a token after each ping
	frames atomic.Int64  // data frames read
}

// startPingBackend starts a pingBackend. read false: it reads nothing, so
// its WebSocket library answers no ping, as a process that froze. pong
// false: its library is told not to answer pings. onPing, if set, runs on
// each ping, on the reading goroutine.
func startPingBackend(t *testing.T, read, pong bool, onPing func(ctx context.Context, ws *websocket.Conn)) *pingBackend {
	t.Helper()
	b := &pingBackend{pinged: make(chan struct{}, 1)}
	stop := make(chan struct{}) // the test's end: a hijacked request's context does not see it
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var ws *websocket.Conn // set before the first read, which runs OnPingReceived
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OnPingReceived: func(ctx context.Context, _ []byte) bool {
			b.pings.Add(1)
			select {
			case b.pinged <- struct{}{}:
			default:
			}
			if onPing != nil {
				onPing(ctx, ws)
			}
			return pong
		}})
		if err != nil {
			return
		}
		defer func() { _ = ws.CloseNow() }()
		if !writeAll(ctx, ws, `{"type":"welcome","session":"s"}`) {
			return
		}
		if !read {
			<-stop
			return
		}
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
			b.frames.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // first
	b.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	return b
}

// waitPings waits for n pings while c stays up.
func (b *pingBackend) waitPings(t *testing.T, c upstream.Conn, n int64) {
	t.Helper()
	for b.pings.Load() < n {
		select {
		case <-b.pinged:
		case <-c.Done():
			t.Fatalf("connection ended after %d pings: %v", b.pings.Load(), c.Err())
		case <-time.After(10 * time.Second):
			t.Fatalf("%d pings in 10s, want %d", b.pings.Load(), n)
		}
	}
}

// A legacy connection pings a backend that has been silent for
// PingInterval, with a WebSocket Ping; one that answers stays up, ping
// after ping, and one that answers nothing within PingTimeout is ended
// with ErrHeartbeatTimeout, as a drop, rather than left attached and
// silent. (The ping was the legacy protocol's JSON request until the
// heartbeat moved to WebSocket Pings: the backends here answer, or not,
// at the WebSocket level.)
func TestLegacyHeartbeat(t *testing.T) {
	for _, via := range dialVias {
		t.Run(via.name, func(t *testing.T) {
			alive := startPingBackend(t, true, true, nil)
			h := newRecorder()
			c := dialScriptedWith(t, heartbeatOptions(alive.url, via.hc), h)
			alive.waitPings(t, c, 5)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			h.mu.Lock()
			if len(h.events) != 0 || h.err != nil {
				t.Errorf("events %v, end %v: a pong is the heartbeat's, not the handler's", h.events, h.err)
			}
			h.mu.Unlock()

			silent := startPingBackend(t, false, false, nil)
			h = newRecorder()
			start := time.Now()
			c = dialScriptedWith(t, heartbeatOptions(silent.url, via.hc), h)
			h.waitFor(t, "the silent backend's connection to end", func(_ []upstream.Event, closed bool) bool { return closed })
			t.Logf("silent backend dropped after %v", time.Since(start))
			if err := c.Err(); !errors.Is(err, upstream.ErrHeartbeatTimeout) {
				t.Fatalf("end %v, want ErrHeartbeatTimeout", err)
			}
		})
	}
}

// A legacy backend that does not answer the heartbeat's ping with a pong
// but sends any other frame within PingTimeout is alive: the heartbeat
// asks for any frame, not for a pong (docs/config.md,
// backends.<color>.ping_timeout). Its connection stays up, ping after
// ping. (Its backend answered the JSON ping with an error frame; it now
// declines to pong a WebSocket Ping, and sends an event instead.)
func TestLegacyHeartbeatTakesAnyFrame(t *testing.T) {
	for _, via := range dialVias {
		t.Run(via.name, func(t *testing.T) {
			b := startPingBackend(t, true, false, func(ctx context.Context, ws *websocket.Conn) {
				writeAll(ctx, ws, `{"type":"notice"}`)
			})
			c := dialScriptedWith(t, heartbeatOptions(b.url, via.hc), newRecorder())
			b.waitPings(t, c, 5)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A backend whose protocol has no ping, or another than the reference
// one (a service adapted through the events mapping), and that ignores
// frame types it does not know, is alive all the same: its WebSocket
// library answers the heartbeat's WebSocket Ping, as every conforming one
// does, and it is sent no frame of the legacy protocol for the heartbeat.
// With the legacy JSON ping, such a backend had every idle connection
// dropped, and its sessions re-attached, every PingInterval +
// PingTimeout.
func TestLegacyHeartbeatNeedsNoJSONPing(t *testing.T) {
	for _, via := range dialVias {
		t.Run(via.name, func(t *testing.T) {
			b := startPingBackend(t, true, true, nil)
			c := dialScriptedWith(t, heartbeatOptions(b.url, via.hc), newRecorder())
			b.waitPings(t, c, 5)
			if n := b.frames.Load(); n != 0 {
				t.Errorf("the backend read %d data frames; the heartbeat sends none", n)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
