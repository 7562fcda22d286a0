package service

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker/membroker"
)

// sioEnv is a Socket.IO service on a loopback httptest server.
type sioEnv struct {
	b   *membroker.Broker
	svc *SocketIO
	url string // http://127.0.0.1:port
}

func startSocketIO(t *testing.T, cfg SocketIOConfig, bopts membroker.Options) *sioEnv {
	t.Helper()
	b := newBroker(t, bopts)
	if cfg.Limits.DrainPeriod == 0 {
		cfg.Limits.DrainPeriod = 50 * time.Millisecond
	}
	svc, err := NewSocketIO(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
	})
	return &sioEnv{b: b, svc: svc, url: srv.URL}
}

// sioRaw is a minimal Socket.IO client over a raw WebSocket, so tests see
// the exact bytes on the wire.
type sioRaw struct {
	t      *testing.T
	ws     *websocket.Conn
	nextID int
	events []string // packets read while waiting for something else
}

// dialSIO opens a connection and joins "/" (auth payload optional).
func (e *sioEnv) dialSIO(t *testing.T) *sioRaw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.url, "http") + SocketIOPath + "?EIO=4&transport=websocket"
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &sioRaw{t: t, ws: ws}
	if got := c.next(); !strings.HasPrefix(got, "0{") {
		t.Fatalf("open %q", got)
	}
	c.send("40")
	if got := c.next(); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("connect %q", got)
	}
	return c
}

func (c *sioRaw) send(msg string) {
	c.t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next Engine.IO message that is not a ping (pings are
// answered).
func (c *sioRaw) next() string {
	c.t.Helper()
	if len(c.events) > 0 {
		e := c.events[0]
		c.events = c.events[1:]
		return e
	}
	return c.read()
}

func (c *sioRaw) read() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if string(b) == "2" {
			_ = c.ws.Write(context.Background(), websocket.MessageText, []byte("3"))
			continue
		}
		return string(b)
	}
}

// request emits event with the raw JSON arg and an ack id and returns the
// ack's arguments (raw JSON array). Events arriving first are kept for next.
func (c *sioRaw) request(event, arg string) string {
	c.t.Helper()
	id := c.nextID
	c.nextID++
	msg := "42" + strconv.Itoa(id) + `["` + event + `"`
	if arg != "" {
		msg += "," + arg
	}
	c.send(msg + "]")
	prefix := "43" + strconv.Itoa(id)
	for {
		got := c.read()
		if strings.HasPrefix(got, prefix+"[") {
			return got[len(prefix):]
		}
		c.events = append(c.events, got)
	}
}

// waitClosed reads until the server closes the connection.
func (c *sioRaw) waitClosed() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := c.ws.Read(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				c.t.Fatal("connection not closed")
			}
			return websocket.CloseStatus(err)
		}
	}
}

func httpPost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return httpDo(t, req)
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return httpDo(t, req)
}

func httpDo(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// newLoopbackServer serves svc without shutting it down at cleanup (the
// test does).
func newLoopbackServer(t *testing.T, svc *SocketIO) string {
	t.Helper()
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}
