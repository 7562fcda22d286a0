package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// echoServer answers each text message with "echo:"+message, first
// sending "welcome"; a message "ping" makes it ping the client, "bye"
// makes it close with 1001.
func echoServer(t *testing.T) (url string, serverErr <-chan error) {
	t.Helper()
	errc := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Test") != "yes" {
			http.Error(w, "no header", http.StatusForbidden)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(1 << 20)
		ctx := context.Background()
		if err := ws.Write(ctx, websocket.MessageText, []byte("welcome")); err != nil {
			errc <- err
			return
		}
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				errc <- err
				return
			}
			switch string(data) {
			case "ping": // the pong is read by this loop meanwhile
				go func() {
					pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					defer cancel()
					if ws.Ping(pctx) == nil {
						_ = ws.Write(ctx, websocket.MessageText, []byte("pong seen"))
					}
				}()
			case "bye":
				err = ws.Close(websocket.StatusGoingAway, "bye")
			default:
				err = ws.Write(ctx, websocket.MessageText, append([]byte("echo:"), data...))
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/x?a=1", errc
}

func dialTest(t *testing.T, url string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, ClientOptions{Header: http.Header{"X-Test": {"yes"}}, ReadLimit: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func readText(t *testing.T, c *Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("type %v", typ)
	}
	return string(data)
}

// dialWelcomed dials echoServer and reads its welcome.
func dialWelcomed(t *testing.T) (c *Client, serverErr <-chan error) {
	t.Helper()
	url, serverErr := echoServer(t)
	c = dialTest(t, url)
	if got := readText(t, c); got != "welcome" {
		t.Fatalf("first message %q", got)
	}
	return c, serverErr
}

func TestClientEchoPingAndClose(t *testing.T) {
	c, serverErr := dialWelcomed(t)
	ctx := context.Background()
	big := strings.Repeat("b", 70000)
	for _, m := range []string{"hello", strings.Repeat("m", 200), big[:60000]} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if got := readText(t, c); got != "echo:"+m {
			t.Fatalf("echo of %d bytes: got %d bytes", len(m), len(got))
		}
	}
	// The server pings; the reader answers while it waits.
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if c.Buffered() {
		t.Fatal("buffered before the server answered")
	}
	c.Wait()
	if got := readText(t, c); got != "pong seen" {
		t.Fatalf("after ping: %q", got)
	}
	// Our close: the reader sees the server's answer.
	if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("late")); err == nil {
		t.Fatal("write after Close succeeded")
	}
	_, _, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("read after Close: %v", err)
	}
	if err := <-serverErr; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("server saw %v", err)
	}
}

// TestClientSendPing: SendPing sends a ping that the server takes (masked,
// as a client's frames must be: coder/websocket refuses others) and
// answers, and the reader counts the pong, which it reads before the echo
// the server sent after it. A ping after Close is not sent.
func TestClientSendPing(t *testing.T) {
	c, _ := dialWelcomed(t)
	ctx := context.Background()
	if err := c.SendPing(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, c); got != "echo:after" {
		t.Fatalf("after the ping: %q", got)
	}
	if n := c.Pongs(); n != 1 {
		t.Fatalf("%d pongs counted, want 1", n)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.SendPing(ctx); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SendPing after Close: %v, want net.ErrClosed", err)
	}
}

// TestClientParksWithoutABuffer: Wait gives an empty read buffer back,
// and the bytes it waited for are read in full after it, one message
// after another, small and large.
func TestClientParksWithoutABuffer(t *testing.T) {
	c, _ := dialWelcomed(t)
	ctx := context.Background()
	for i, m := range []string{"a", strings.Repeat("m", 300), strings.Repeat("l", 5000), "z"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if c.Buffered() {
			t.Fatalf("message %d: buffered before the server answered", i)
		}
		c.Wait()
		if c.br != nil {
			t.Fatalf("message %d: the read buffer is held across Wait", i)
		}
		if !c.Buffered() {
			t.Fatalf("message %d: Wait returned with nothing read", i)
		}
		_, got, err := c.Borrow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo:"+m {
			t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len("echo:"+m))
		}
	}
}

// TestClientWritesIntoAFullSocket: writes go on while the server reads
// nothing, until the socket's buffers fill and a write takes only part of
// a frame at once; the server then reads every message whole and in
// order.
func TestClientWritesIntoAFullSocket(t *testing.T) {
	const messages, size = 400, 32 << 10 // well past loopback's buffers
	start := make(chan struct{})
	got := make(chan error, 1)
	addr := serve(t, func(ws *websocket.Conn, l *Link) {
		ws.SetReadLimit(1 << 20)
		<-start
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i := range messages {
			_, data, err := ws.Read(ctx)
			if err == nil && (len(data) != size || data[0] != byte(i) || data[size-1] != byte(i)) {
				err = fmt.Errorf("message %d: %d bytes starting %d", i, len(data), data[0])
			}
			if err != nil {
				got <- err
				return
			}
		}
		got <- nil
	})
	c := dialTest(t, "ws://"+addr)
	written := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i := range messages {
			if err := c.Write(ctx, websocket.MessageBinary, bytes.Repeat([]byte{byte(i)}, size)); err != nil {
				written <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
		written <- nil
	}()
	select {
	case err := <-written:
		t.Fatalf("all %d writes done before the server read: %v; the socket never filled", messages, err)
	case <-time.After(200 * time.Millisecond): // blocked on the full socket
	}
	close(start)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
}

func TestClientPeerCloseAndLimit(t *testing.T) {
	url, serverErr := echoServer(t)
	c := dialTest(t, url)
	readText(t, c)
	ctx := context.Background()
	if err := c.Write(ctx, websocket.MessageText, []byte("bye")); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "bye" {
		t.Fatalf("read: %v", err)
	}
	<-serverErr

	c = dialTest(t, url)
	readText(t, c)
	if err := c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("x"), 65<<10)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized echo: %v, want ErrTooLarge", err)
	}
	// The server sees 1009, or a reset if it was still writing when
	// the client cut the connection.
	if err := <-serverErr; err == nil {
		t.Fatal("server: no error")
	}
}

func TestClientHandshakeRefused(t *testing.T) {
	url, _ := echoServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, url, ClientOptions{}); !errors.Is(err, ErrHandshake) {
		t.Fatalf("Dial without the header: %v, want ErrHandshake", err)
	}
}

func TestClientReadDeadline(t *testing.T) {
	url, _ := echoServer(t)
	c := dialTest(t, url)
	readText(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
}

func FuzzParseFrameHeader(f *testing.F) {
	for _, seed := range [][]byte{
		{0x81, 0x05},
		{0x82, 0x7e, 0x01, 0x00},
		{0x81, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0},
		{0x89, 0x00},
		{0x88, 0x02, 0x03, 0xe8},
		{0x01, 0x03},
		{0x80, 0x03},
		{0x81, 0x85, 1, 2, 3, 4},
		{0xc1, 0x01},
		{0x8b, 0x00},
		{0x09, 0x00},
		{0x81, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseFrameHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if h.masked || h.length>>63 != 0 || (h.op >= 0x8 && (!h.fin || h.length > 125)) {
			t.Fatalf("accepted a bad header %+v from %x", h, b)
		}
		if h.op > opBinary && h.op != opClose && h.op != opPing && h.op != opPong {
			t.Fatalf("accepted opcode %#x", h.op)
		}
		// It round-trips through the encoder.
		enc := AppendFrameHeader(nil, h.op, int(h.length))
		enc[0] = enc[0]&0x7f | b[0]&0x80
		h2, err := parseFrameHeader(bufio.NewReader(bytes.NewReader(enc)))
		if err != nil || h2 != h {
			t.Fatalf("re-encoded %+v as %x: %+v, %v", h, enc, h2, err)
		}
	})
}
