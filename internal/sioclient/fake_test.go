package sioclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wsconn"
)

// A scripted in-process Engine.IO server for what the official server will
// not do on request: stay silent, send garbage, answer late.

const fakeOpen = `0{"sid":"fake","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`

// fakeServer serves websocket sessions with script and returns the base
// URL. The script's connection is closed when it returns.
func fakeServer(t *testing.T, script func(ctx context.Context, c *websocket.Conn)) string {
	t.Helper()
	return fakeLinkServer(t, func(ctx context.Context, c *websocket.Conn, _ *wsconn.Link) { script(ctx, c) })
}

// fakeLinkServer is fakeServer that also hands the script the hijacked
// connection's wsconn.Link, whose Writer writes raw frames.
func fakeLinkServer(t *testing.T, script func(ctx context.Context, c *websocket.Conn, l *wsconn.Link)) string {
	t.Helper()
	var handlers testenv.Handlers
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !handlers.Enter() {
			http.Error(w, "closing", http.StatusServiceUnavailable)
			return
		}
		defer handlers.Leave()
		if r.URL.Query().Get("transport") != "websocket" || r.URL.Query().Get("EIO") != "4" {
			http.Error(w, "websocket only", http.StatusBadRequest)
			return
		}
		hw := &wsconn.Response{ResponseWriter: w, Timeout: 5 * time.Second}
		c, err := websocket.Accept(hw, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		script(ctx, c, hw.Link)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		handlers.CloseAndWait()
	})
	return srv.URL + "/socket.io/"
}

func write(ctx context.Context, c *websocket.Conn, frames ...string) {
	for _, f := range frames {
		if err := c.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			return
		}
	}
}

// drain reads until the connection ends and returns the text frames read.
func drain(ctx context.Context, c *websocket.Conn) []string {
	var got []string
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return got
		}
		got = append(got, string(b))
	}
}

func dialFake(t *testing.T, url string) *Client {
	t.Helper()
	c, err := Dial(testenv.Context(t, 10*time.Second), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestHeartbeatTimeout(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, `0{"sid":"x","upgrades":[],"pingInterval":50,"pingTimeout":50,"maxPayload":1000}`)
		drain(ctx, c) // never pings
	})
	c := dialFake(t, url)
	waitDone(t, c.Done())
	if !errors.Is(c.Err(), ErrHeartbeatTimeout) {
		t.Fatalf("err = %v", c.Err())
	}
}

func TestServerClosePacket(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, fakeOpen, "1")
		drain(ctx, c)
	})
	c := dialFake(t, url)
	waitDone(t, c.Done())
	if !errors.Is(c.Err(), ErrTransportClosed) {
		t.Fatalf("err = %v", c.Err())
	}
}

func TestProtocolErrors(t *testing.T) {
	for name, frames := range map[string][]string{
		"bad engine packet":   {"9x"},
		"bad socketio packet": {"4{not a packet"},
		"bad event payload":   {`42["x"`},
		"unexpected binary":   {"binary"}, // sent as a binary frame below
	} {
		t.Run(name, func(t *testing.T) {
			url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
				write(ctx, c, fakeOpen)
				if frames[0] == "binary" {
					_ = c.Write(ctx, websocket.MessageBinary, []byte{1})
				} else {
					write(ctx, c, frames...)
				}
				drain(ctx, c)
			})
			c := dialFake(t, url)
			waitDone(t, c.Done())
			if !errors.Is(c.Err(), ErrProtocol) {
				t.Fatalf("err = %v", c.Err())
			}
		})
	}
}

func TestHandshakeErrors(t *testing.T) {
	for name, first := range map[string]string{
		"not open":       "40",
		"no sid":         `0{"pingInterval":1,"pingTimeout":1}`,
		"no ping values": `0{"sid":"x"}`,
		"not json":       "0{",
	} {
		t.Run(name, func(t *testing.T) {
			url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
				write(ctx, c, first)
				drain(ctx, c)
			})
			_, err := Dial(testenv.Context(t, 10*time.Second), url, Options{})
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {})
	if _, err := Dial(testenv.Context(t, 10*time.Second), url, Options{}); err == nil {
		t.Fatal("dial to a server closing at once succeeded")
	}
	if _, err := Dial(testenv.Context(t, 10*time.Second), "ftp://127.0.0.1/", Options{}); err == nil {
		t.Fatal("ftp url accepted")
	}
	if _, err := Dial(testenv.Context(t, 10*time.Second), url, Options{EventBuffer: -1}); err == nil {
		t.Fatal("negative EventBuffer accepted")
	}
}

// TestLateConnectAnswer: Connect gives up at its deadline; when the server
// accepts afterwards, the client leaves the namespace again.
func TestLateConnectAnswer(t *testing.T) {
	left := make(chan string, 1)
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, fakeOpen)
		if _, b, err := c.Read(ctx); err != nil || string(b) != "40" {
			return
		}
		time.Sleep(300 * time.Millisecond)
		write(ctx, c, `40{"sid":"late"}`)
		_, b, _ := c.Read(ctx)
		left <- string(b)
		drain(ctx, c)
	})
	c := dialFake(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Connect(ctx, "/", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connect err = %v", err)
	}
	select {
	case got := <-left:
		if got != "41" {
			t.Fatalf("client sent %q, want 41", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client did not leave the late namespace")
	}
}

func TestEndpointURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:1":                 "http://h:1/socket.io/",
		"ws://h:1/":                  "http://h:1/socket.io/",
		"wss://h/custom":             "https://h/custom/",
		"http://h/x/?token=a#frag":   "http://h/x/?token=a",
		"https://h/socket.io/?a=1&b": "https://h/socket.io/?a=1&b",
	} {
		u, err := endpointURL(in, DefaultPath)
		if err != nil || u.String() != want {
			t.Errorf("endpointURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	e := newEngine(&Options{}, mustEndpoint(t, "https://h/p/?token=a"))
	if got := e.requestURL("websocket", "s1"); !strings.HasPrefix(got, "wss://h/p/?") || !strings.Contains(got, "token=a") || !strings.Contains(got, "sid=s1") || !strings.Contains(got, "EIO=4") {
		t.Errorf("requestURL = %s", got)
	}
}

func mustEndpoint(t testing.TB, raw string) *url.URL {
	u, err := endpointURL(raw, DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
