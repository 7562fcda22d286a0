package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/testenv"
)

const adminToken = "test-token"

// front is the gateway's client and admin listeners on loopback.
type front struct {
	edge      *edge.Server
	edgeAddr  string // host:port
	adminURL  string // http://host:port
	adminHTTP *http.Client
}

// startFront serves e's gateway to clients and operators until the test
// ends (the edge drains before the gateway closes).
func startFront(t *testing.T, e *env, opts edge.Options) *front {
	t.Helper()
	opts.Gateway = e.g
	if opts.DrainPeriod == 0 {
		opts.DrainPeriod = 10 * time.Millisecond
	}
	ed, err := edge.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	api, err := admin.New(admin.Options{Gateway: e.g, Token: adminToken, Extra: func() any { return ed.Stats() }})
	if err != nil {
		t.Fatal(err)
	}
	f := &front{edge: ed, adminHTTP: &http.Client{Timeout: 60 * time.Second}}
	edgeSrv, edgeAddr := serveLoopback(t, ed)
	adminSrv, adminAddr := serveLoopback(t, api)
	f.edgeAddr, f.adminURL = edgeAddr, "http://"+adminAddr
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = adminSrv.Shutdown(ctx)
		_ = edgeSrv.Shutdown(ctx)
		if err := ed.Shutdown(ctx); err != nil {
			t.Errorf("edge shutdown: %v", err)
		}
		f.adminHTTP.CloseIdleConnections()
	})
	return f
}

func serveLoopback(t *testing.T, h http.Handler) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String()
}

// adminDo sends one admin request; token "" sends none.
func (f *front) adminDo(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.adminURL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.adminHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// adminJSON sends an admin request with the right token, wants status
// want, and decodes the answer into v.
func (f *front) adminJSON(t *testing.T, method, path, body string, want int, v any) {
	t.Helper()
	code, b := f.adminDo(t, method, path, adminToken, body)
	if code != want {
		t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, code, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// recorder keeps the seqs one client received, by channel.
type recorder struct {
	mu   sync.Mutex
	seqs map[string][]uint64
}

func newRecorder() *recorder { return &recorder{seqs: make(map[string][]uint64)} }

func (r *recorder) add(ch string, seq uint64) {
	r.mu.Lock()
	r.seqs[ch] = append(r.seqs[ch], seq)
	r.mu.Unlock()
}

func (r *recorder) get(ch string) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.seqs[ch]...)
}

// edgeClient is a legacy or Socket.IO client of the edge.
type edgeClient struct {
	user     string
	channels []string
	rec      *recorder
	legacy   *legacyclient.Client
	sio      *sioclient.Client
	sock     *sioclient.Socket
}

func (c *edgeClient) subscribe(ctx context.Context, ch string) error {
	if c.legacy != nil {
		_, err := c.legacy.Subscribe(ctx, ch, nil)
		return err
	}
	return c.sock.Subscribe(ctx, ch, nil)
}

// subscribeAt subscribes c to ch, with since unless it is nil, and returns
// the ack's position (a legacy ack's is taken as given).
func (c *edgeClient) subscribeAt(ctx context.Context, ch string, since *uint64) (pos uint64, hasPos bool, err error) {
	if c.legacy != nil {
		pos, err = c.legacy.Subscribe(ctx, ch, since)
		return pos, err == nil, err
	}
	return c.sock.SubscribeAt(ctx, ch, since)
}

// checkEachAfter waits until c has channel ch's messages up to last, and
// checks that they are every seq after from, once, in order.
func checkEachAfter(t *testing.T, c *edgeClient, ch string, from, last uint64) {
	t.Helper()
	testenv.Eventually(t, c.user+" got every message", 10*time.Second, func() bool {
		got := c.rec.get(ch)
		return len(got) > 0 && got[len(got)-1] >= last
	})
	got := c.rec.get(ch)
	for j, seq := range got {
		if want := from + 1 + uint64(j); seq != want {
			t.Errorf("%s: channel %s's message %d is seq %d, want %d (from %d, %d messages, last published %d): %v", c.user, ch, j, seq, want, from, len(got), last, got)
			return
		}
	}
	if want := last - from; uint64(len(got)) != want {
		t.Errorf("%s: %d messages on channel %s, want %d (%d..%d)", c.user, len(got), ch, want, from+1, last)
	}
}

func (c *edgeClient) publish(ctx context.Context, ch string, data []byte) (uint64, error) {
	if c.legacy != nil {
		return c.legacy.Publish(ctx, ch, data)
	}
	return c.sock.Publish(ctx, ch, data)
}

func (c *edgeClient) done() <-chan struct{} {
	if c.legacy != nil {
		return c.legacy.Done()
	}
	return c.sock.Done()
}

func (c *edgeClient) close() {
	if c.legacy != nil {
		_ = c.legacy.Close()
		return
	}
	_ = c.sio.Close()
}

// dialLegacy connects a legacy client as user and records its messages.
func (f *front) dialLegacy(t *testing.T, ctx context.Context, user string) *edgeClient {
	t.Helper()
	lc, err := legacyclient.Dial(ctx, "ws://"+f.edgeAddr+"/ws?user="+user, legacyclient.Options{MessageBuffer: 1 << 16})
	if err != nil {
		t.Fatalf("dial legacy %s: %v", user, err)
	}
	c := &edgeClient{user: user, rec: newRecorder(), legacy: lc}
	go func() {
		for m := range lc.Messages() {
			c.rec.add(m.Channel, m.Seq)
		}
	}()
	t.Cleanup(c.close)
	return c
}

// dialSIO connects a Go Socket.IO client as user and records its messages.
func (f *front) dialSIO(t *testing.T, ctx context.Context, user string) *edgeClient {
	t.Helper()
	c := &edgeClient{user: user, rec: newRecorder()}
	sc, err := sioclient.Dial(ctx, "http://"+f.edgeAddr+"/socket.io/?user="+user, sioclient.Options{
		OnEvent: func(_ *sioclient.Socket, ev sioclient.Event) {
			if ev.Message != nil {
				c.rec.add(ev.Message.Channel, ev.Message.Seq)
			}
		},
	})
	if err != nil {
		t.Fatalf("dial socket.io %s: %v", user, err)
	}
	c.sio = sc
	t.Cleanup(c.close)
	if c.sock, err = sc.Connect(ctx, "/", nil); err != nil {
		t.Fatalf("connect socket.io %s: %v", user, err)
	}
	return c
}

// isDone reports whether ch is closed.
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
