package handover_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// mitm is a WebSocket proxy on loopback between the gateway and a real
// legacy backend, through which a test scripts a misbehaving backend:
// every frame the backend sends goes through script, which decides what
// the gateway sees instead (c.pass forwards it).
type mitm struct {
	target   string
	srv      *httptest.Server
	handlers testenv.Handlers
	script   func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte)

	mu    sync.Mutex
	conns []*mitmConn
}

// mitmConn is one gateway connection through the proxy.
type mitmConn struct {
	gw, be *websocket.Conn
	ctx    context.Context

	mu   sync.Mutex
	subs map[uint64]string // subscribe id -> channel, as the gateway sent them
	n    map[string]int    // messages passed per channel since the subscribe
	acks map[string]bool   // channels whose subscribe ack was passed
	st   map[string]any    // the script's own state
}

func startMITM(t *testing.T, target string, script func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte)) *mitm {
	t.Helper()
	m := &mitm{target: target, script: script}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(func() {
		m.srv.CloseClientConnections()
		m.mu.Lock()
		for _, c := range m.conns {
			c.cut()
		}
		m.mu.Unlock()
		m.handlers.CloseAndWait()
		m.srv.Close()
	})
	return m
}

// dialer dials the backend through the proxy.
func (m *mitm) dialer() upstream.Dialer {
	d, err := upstream.NewDialer(config.Backend{URL: "ws" + strings.TrimPrefix(m.srv.URL, "http") + "/ws", Protocol: config.ProtocolLegacy, DialTimeout: 10 * time.Second}, 0)
	if err != nil {
		panic(err)
	}
	return d
}

func (m *mitm) serve(w http.ResponseWriter, r *http.Request) {
	if !m.handlers.Enter() {
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	}
	defer m.handlers.Leave()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be, _, err := websocket.Dial(ctx, m.target, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	be.SetReadLimit(-1)
	gw, err := websocket.Accept(w, r, nil)
	if err != nil {
		_ = be.CloseNow()
		return
	}
	gw.SetReadLimit(-1)
	c := &mitmConn{gw: gw, be: be, ctx: ctx, subs: map[uint64]string{}, n: map[string]int{}, acks: map[string]bool{}, st: map[string]any{}}
	m.mu.Lock()
	m.conns = append(m.conns, c)
	m.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { // gateway -> backend, noting the subscribes
		defer c.cut()
		for {
			typ, b, err := gw.Read(ctx)
			if err != nil {
				return
			}
			if f, err := legacy.Decode(b); err == nil && f.Type == legacy.TypeSubscribe {
				c.mu.Lock()
				c.subs[f.ID] = f.Channel
				c.n[f.Channel] = 0
				c.mu.Unlock()
			}
			if be.Write(ctx, typ, b) != nil {
				return
			}
		}
	})
	defer wg.Wait()
	defer c.cut()
	for { // backend -> gateway, through the script
		typ, b, err := be.Read(ctx)
		if err != nil {
			return
		}
		f, _ := legacy.Decode(b)
		m.script(c, typ, f, b)
	}
}

// channelOf is the channel of the subscribe with request id.
func (c *mitmConn) channelOf(id uint64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[id]
}

// channelOf0 is channelOf with c.mu held.
func (c *mitmConn) channelOf0(id uint64) string { return c.subs[id] }

// pass forwards a frame from the backend unchanged, and counts it.
func (c *mitmConn) pass(typ websocket.MessageType, f legacy.Frame, raw []byte) {
	c.mu.Lock()
	switch f.Type {
	case legacy.TypeMessage:
		c.n[f.Channel]++
	case legacy.TypeAck:
		if ch, ok := c.subs[f.ID]; ok {
			c.acks[ch] = true
		}
	}
	c.mu.Unlock()
	c.send(typ, raw)
}

// passed is how many messages of channel were passed since its subscribe,
// and whether its ack was.
func (c *mitmConn) passed(channel string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[channel], c.acks[channel]
}

// send writes a frame of the test's to the gateway.
func (c *mitmConn) send(typ websocket.MessageType, raw []byte) {
	_ = c.gw.Write(c.ctx, typ, raw)
}

func (c *mitmConn) sendText(s string) { c.send(websocket.MessageText, []byte(s)) }

// cut ends both sides at once, as a crash would.
func (c *mitmConn) cut() {
	_ = c.gw.CloseNow()
	_ = c.be.CloseNow()
}
