package sio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

type testServer struct {
	srv *Server
	url string // http://127.0.0.1:port/socket.io/
}

// echoServer is configured like the protocol test suite's reference server.
func echoServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Engine.PingInterval == 0 {
		cfg.Engine.PingInterval = 300 * time.Millisecond
		cfg.Engine.PingTimeout = 200 * time.Millisecond
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = time.Second
	}
	cfg.Engine.DrainPeriod = 20 * time.Millisecond
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/", "/custom"} {
		n := srv.Of(name)
		n.OnConnect(func(s *Socket) { _ = s.Emit("auth", s.Auth()) })
		n.On("message", func(s *Socket, e *Event) { _ = s.EmitBinary("message-back", e.Binary, e.Args...) })
		n.On("message-with-ack", func(s *Socket, e *Event) { _ = e.AckBinary(e.Binary, e.Args...) })
	}
	return serve(t, srv)
}

func serve(t *testing.T, srv *Server) *testServer {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv.Handler())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return &testServer{srv: srv, url: hs.URL + "/socket.io/"}
}

type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

// open dials the Engine.IO WebSocket and reads the open packet.
func (ts *testServer) open(t *testing.T) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(ts.url, "http") + "?EIO=4&transport=websocket"
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &wsClient{t: t, ws: ws}
	if got := c.read(); !strings.HasPrefix(got, "0{") {
		t.Fatalf("open packet %q", got)
	}
	return c
}

// connect opens a connection and joins the main namespace, consuming the
// CONNECT answer and the "auth" event.
func (ts *testServer) connect(t *testing.T) *wsClient {
	t.Helper()
	c := ts.open(t)
	c.send("40")
	if got := c.read(); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("connect answer %q", got)
	}
	c.read() // auth
	return c
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	if err := c.ws.Write(c.t.Context(), websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *wsClient) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.Write(c.t.Context(), websocket.MessageBinary, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next message that is not a ping, answering pings.
func (c *wsClient) read() string {
	c.t.Helper()
	_, s := c.readTyped()
	return s
}

func (c *wsClient) readTyped() (websocket.MessageType, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.next(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return typ, string(b)
}

// waitClosed reads until the server closes the connection.
func (c *wsClient) waitClosed() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.next(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				c.t.Fatal("connection not closed")
			}
			return
		}
	}
}

// expectNothing checks that no message other than pings arrives for d.
func (c *wsClient) expectNothing(d time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, b, err := c.next(ctx)
	switch {
	case err == nil:
		c.t.Fatalf("unexpected message %q", b)
	case !errors.Is(err, context.DeadlineExceeded):
		c.t.Fatalf("read: %v", err)
	}
}

// next reads the next message that is not a ping, answering pings. The
// pong is written under the test's context, not ctx: a write canceled
// half-way would close the connection.
func (c *wsClient) next(ctx context.Context) (websocket.MessageType, []byte, error) {
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil || typ != websocket.MessageText || string(b) != "2" {
			return typ, b, err
		}
		_ = c.ws.Write(c.t.Context(), websocket.MessageText, []byte("3"))
	}
}
