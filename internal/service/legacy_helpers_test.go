package service

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// legacyEnv is a legacy service on a loopback httptest server.
type legacyEnv struct {
	b     *membroker.Broker
	hub   *Hub
	l     *Legacy
	srv   *httptest.Server
	wsURL string
}

type envOptions struct {
	limits   Limits
	broker   membroker.Options
	listener net.Listener // nil: a default loopback listener
}

func startLegacy(t *testing.T, o envOptions) *legacyEnv {
	t.Helper()
	b := newBroker(t, o.broker)
	hub := newHub(t, b, HubOptions{})
	if o.limits.DrainPeriod == 0 {
		o.limits.DrainPeriod = 50 * time.Millisecond
	}
	l, err := NewLegacy(hub, LegacyOptions{Limits: o.limits})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(l.Handler())
	if o.listener != nil {
		srv.Listener.Close()
		srv.Listener = o.listener
	}
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
	})
	return &legacyEnv{b: b, hub: hub, l: l, srv: srv, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http") + LegacyPath}
}

func (e *legacyEnv) dial(t *testing.T) *legacyclient.Client {
	t.Helper()
	c, err := legacyclient.Dial(testenv.Context(t, 30*time.Second), e.wsURL, legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawConn speaks the protocol by hand, to send what a good client would not.
type rawConn struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *legacyEnv) dialRaw(t *testing.T, opts *websocket.DialOptions) *rawConn {
	t.Helper()
	ws, _, err := websocket.Dial(testenv.Context(t, 30*time.Second), e.wsURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	r := &rawConn{t: t, ws: ws}
	if f := r.read(); f.Type != legacy.TypeWelcome || f.Session == "" {
		t.Fatalf("first frame %+v, want a welcome with a session", f)
	}
	return r
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if err := r.ws.Write(testenv.Context(r.t, 30*time.Second), websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatalf("write %s: %v", s, err)
	}
}

func (r *rawConn) read() legacy.Frame {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := r.ws.Read(ctx)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		r.t.Fatalf("got a binary frame")
	}
	f, err := legacy.Decode(b)
	if err != nil {
		r.t.Fatalf("server sent an undecodable frame %s: %v", b, err)
	}
	return f
}

// expectError reads one frame and checks it is an error with code and id.
func (r *rawConn) expectError(code string, id uint64) legacy.Frame {
	r.t.Helper()
	f := r.read()
	if f.Type != legacy.TypeError || f.Code != code || f.ID != id {
		r.t.Fatalf("got %s, want error %s with id %d", legacy.Append(nil, f), code, id)
	}
	if f.Message == "" {
		r.t.Fatalf("error %s has no message", code)
	}
	return f
}

// smallBufferListener shrinks the kernel send buffer of every accepted
// connection, so that a client that stops reading fills the server's
// outbound queue quickly.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// smallReadBufferClient dials with a small kernel receive buffer.
func smallReadBufferClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return c, err
		},
	}}
}
