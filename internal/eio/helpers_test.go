package eio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// echo is a Handler that sends every message back and reports closes.
type echo struct {
	closed chan error
}

func (e *echo) OnOpen(*Conn) {}

func (e *echo) OnMessage(c *Conn, data []byte, binary bool) {
	if binary {
		_ = c.SendBinary(data)
		return
	}
	_ = c.SendText(data)
}

func (e *echo) OnClose(_ *Conn, err error) { e.closed <- err }

type testServer struct {
	srv  *Server
	url  string // http://127.0.0.1:port/engine.io/
	h    *echo
	http *httptest.Server
}

// startServer runs an echo server with the protocol suite's timings unless
// cfg says otherwise.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 300 * time.Millisecond
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = 200 * time.Millisecond
	}
	if cfg.DrainPeriod == 0 {
		cfg.DrainPeriod = 50 * time.Millisecond
	}
	h := &echo{closed: make(chan error, 64)}
	return serveHandler(t, cfg, h, h)
}

// serveHandler runs a server with handler h (whose echo part is e) until
// the test ends.
func serveHandler(t *testing.T, cfg Config, h Handler, e *echo) *testServer {
	t.Helper()
	srv, err := NewServer(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return &testServer{srv: srv, url: hs.URL + "/engine.io/", h: e, http: hs}
}

func (ts *testServer) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(ts.url, "http") + "?" + query
}

// do sends one HTTP request and returns status and body.
func do(t *testing.T, method, url, body string) (int, string, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// openPolling handshakes over polling and returns the sid.
func (ts *testServer) openPolling(t *testing.T) string {
	t.Helper()
	status, body, _ := do(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	if status != 200 || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	var hs struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &hs); err != nil {
		t.Fatal(err)
	}
	return hs.SID
}

func (ts *testServer) pollURL(sid string) string {
	return ts.url + "?EIO=4&transport=polling&sid=" + sid
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// probed opens the WebSocket of an upgrade of polling session sid and
// has its probe answered: the upgrade is then in progress, waiting for
// the client's upgrade packet.
func probed(t *testing.T, ts *testServer, sid string) *websocket.Conn {
	t.Helper()
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket&sid="+sid))
	send(t, ws, "2probe")
	if _, got := read(t, ws); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	return ws
}

// read returns the next message, failing the test after 5s.
func read(t *testing.T, ws *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(b)
}

func send(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
}

// waitClosed reads until the server closes ws and returns the close status.
func waitClosed(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("server did not close the websocket")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// closeReason waits for the handler's OnClose.
func (ts *testServer) closeReason(t *testing.T) error {
	t.Helper()
	select {
	case err := <-ts.h.closed:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called")
		return nil
	}
}

// dialRaw dials without failing the test, for refusals.
func dialRaw(url string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, url, nil)
}
