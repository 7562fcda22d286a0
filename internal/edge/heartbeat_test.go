package edge_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
)

// heartbeatEdge serves an edge whose legacy clients are pinged every
// interval and closed after timeout without a word; it returns the edge,
// its gateway, its host:port and the backend the sessions go to.
func heartbeatEdge(t *testing.T, interval, timeout time.Duration) (*edge.Server, func() int, func() int, string) {
	t.Helper()
	ed, g, addr, blue := startEdgeBlue(t, edge.Options{
		Edge:        config.Edge{PingInterval: interval, PingTimeout: timeout},
		DrainPeriod: time.Millisecond,
	}, newBroker(t), nil, nil)
	return ed, func() int { return len(g.Sessions()) }, blue.Conns, addr
}

// rawLegacy completes a WebSocket upgrade to /ws as user over a bare TCP
// connection and reads the 101 and the welcome frame; after that nothing
// reads or writes it but the test.
func rawLegacy(t *testing.T, addr, user string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s?user=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", edge.LegacyPath, user, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	if op, p, err := readServerFrame(br); err != nil || op != 0x1 || !strings.Contains(string(p), `"welcome"`) {
		t.Fatalf("first frame %#x %q, %v; want the welcome", op, p, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, br
}

// readServerFrame reads one final, unmasked frame.
func readServerFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("frame header % x: want a final, unmasked frame", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		_, err = io.ReadFull(br, ext[:])
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		_, err = io.ReadFull(br, ext[:])
		n = binary.BigEndian.Uint64(ext[:])
	}
	if err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return h[0] & 0x0f, payload, err
}

// TestLegacyHeartbeatClosesAFrozenClient: a legacy client that completes
// its upgrade and then neither reads nor writes (a process that froze
// while its kernel still acknowledges, or a flow a NAT dropped) is pinged
// and, silent past the ping timeout, closed with 1001 "ping_timeout": its
// session ends as at a disconnect, its backend connection closes, and it
// is counted. Before the heartbeat it kept all of that until its queue
// overflowed, which on an idle channel is never.
func TestLegacyHeartbeatClosesAFrozenClient(t *testing.T) {
	const interval, timeout = 100 * time.Millisecond, 100 * time.Millisecond
	ed, sessions, backendConns, addr := heartbeatEdge(t, interval, timeout)
	c, br := rawLegacy(t, addr, "frozen")
	start := time.Now()
	if st := ed.Stats(); st.Legacy != 1 || sessions() != 1 || backendConns() != 1 {
		t.Fatalf("after the upgrade: %d legacy connections, %d sessions, %d backend connections; want 1 each", st.Legacy, sessions(), backendConns())
	}
	testenv.Eventually(t, "the frozen client's session and backend connection to end", 5*time.Second, func() bool {
		return ed.Stats().Legacy == 0 && sessions() == 0 && backendConns() == 0
	})
	t.Logf("frozen client closed after %v (interval %v, timeout %v)", time.Since(start), interval, timeout)
	if n := ed.Stats().PingTimeouts; n != 1 {
		t.Errorf("ping_timeouts %d, want 1", n)
	}

	// What the client would have read: pings, then the close frame, then
	// the end of the stream.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	pings := 0
	for {
		op, p, err := readServerFrame(br)
		if err != nil {
			t.Fatalf("after %d pings: %v; want a close frame", pings, err)
		}
		if op == 0x9 {
			pings++
			continue
		}
		if op != 0x8 || len(p) < 2 {
			t.Fatalf("frame %#x %q after %d pings; want pings, then a close frame", op, p, pings)
		}
		code, reason := websocket.StatusCode(binary.BigEndian.Uint16(p)), string(p[2:])
		if code != websocket.StatusGoingAway || reason != "ping_timeout" || pings == 0 {
			t.Fatalf("close %d %q after %d pings; want 1001 \"ping_timeout\" after at least one ping", code, reason, pings)
		}
		break
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(fmt.Sprint(err), "reset") {
		t.Fatalf("after the close frame: %v; want the end of the connection", err)
	}
}

// TestLegacyHeartbeatKeepsALiveIdleClient: an idle legacy client whose
// WebSocket library answers pings (coder/websocket, while a Read is
// pending, as browsers and Node's ws do by themselves) stays connected
// ping after ping, and still gets a message published after them.
func TestLegacyHeartbeatKeepsALiveIdleClient(t *testing.T) {
	const interval, timeout = 100 * time.Millisecond, 100 * time.Millisecond
	ed, _, _, addr := heartbeatEdge(t, interval, timeout)
	ctx := testenv.Context(t, 20*time.Second)
	var pings atomic.Int64
	pinged := make(chan struct{}, 1)
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+edge.LegacyPath+"?user=idle", &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			pings.Add(1)
			select {
			case pinged <- struct{}{}:
			default:
			}
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	frames := make(chan string, 16)
	readErr := make(chan error, 1)
	go func() { // a Read always pending: pings are answered meanwhile
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			frames <- string(b)
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case f := <-frames:
			return f
		case err := <-readErr:
			t.Fatalf("waiting for %s: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("no %s", what)
		}
		return ""
	}
	if f := next("the welcome"); !strings.Contains(f, `"welcome"`) {
		t.Fatalf("first frame %s", f)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":1,"channel":"c"}`)); err != nil {
		t.Fatal(err)
	}
	if f := next("the subscribe's ack"); !strings.Contains(f, `"ack"`) {
		t.Fatalf("subscribe answered %s", f)
	}

	const want = 5 // several intervals, and timeouts, go by
	for pings.Load() < want {
		select {
		case <-pinged:
		case err := <-readErr:
			t.Fatalf("connection ended after %d pings: %v", pings.Load(), err)
		case <-ctx.Done():
			t.Fatalf("%d pings, want %d", pings.Load(), want)
		}
	}
	pub := dialPubSub(ctx, t, addr, "publisher", false)
	pub.request(ctx, t, "publish", "c", []byte(`"after the pings"`))
	if f := next("the message published after the pings"); !strings.Contains(f, `"message"`) || !strings.Contains(f, "after the pings") {
		t.Fatalf("got %s, want the message", f)
	}
	if st := ed.Stats(); st.Legacy != 2 || st.PingTimeouts != 0 {
		t.Fatalf("stats %+v: want both clients connected", st)
	}
}

// TestLegacyHeartbeatSparesABlockedRequest: a legacy client whose request
// waits on the session (its operation lock held, as a move holds it) for
// several ping timeouts answers every ping, but its pongs wait unread
// behind the request on the connection's reader: that time is the
// gateway's, and the client keeps its connection and gets its answer.
func TestLegacyHeartbeatSparesABlockedRequest(t *testing.T) {
	_, g, addr := startEdgeWith(t, edge.Options{
		Edge:           config.Edge{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond},
		RequestTimeout: 10 * time.Second,
		DrainPeriod:    time.Millisecond,
	})
	ctx := testenv.Context(t, 20*time.Second)
	c := dialPubSub(ctx, t, addr, "blocked", false)
	c.subscribe(ctx, t, "a")
	sessions := g.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions", len(sessions))
	}
	s := sessions[0]
	if err := s.LockOps(ctx); err != nil {
		t.Fatal(err)
	}
	id := c.request(ctx, t, "subscribe", "b", nil)
	type result struct {
		r   received
		err error
	}
	done := make(chan result, 1)
	go func() { // answers every ping while it waits for the ack
		r, err := c.next(ctx)
		done <- result{r, err}
	}()
	time.Sleep(time.Second) // ten ping intervals go by while the request waits
	s.UnlockOps()
	res := <-done
	if res.err != nil || !res.r.ack || res.r.id != id {
		t.Fatalf("subscribe answer %+v, err %v: a client that answered every ping was disconnected", res.r, res.err)
	}
}

// TestIdleLegacyReaderParksAgainAfterItsHeartbeat: an idle legacy
// client's reader, woken by the client's pong to a heartbeat ping, parks
// again with no read buffer and on the smallest stack, as it does after a
// request: the heartbeat must not leave every idle session's reader
// blocked deep in a read, holding a 1 KiB read buffer and, often, a
// larger stack. What goroutine stacks and the heap hold is measured
// before the pongs and after them; the clients are bare sockets, with no
// goroutine of their own.
//
// Without the race detector only: it deepens every frame, and sync.Pool
// drops items on purpose.
func TestIdleLegacyReaderParksAgainAfterItsHeartbeat(t *testing.T) {
	if testenv.Race {
		t.Skip("the race detector changes stack sizes")
	}
	const conns = 500
	_, _, _, addr := heartbeatEdge(t, 100*time.Millisecond, time.Minute)
	clients := make([]*bufio.Reader, conns)
	socks := make([]net.Conn, conns)
	for i := range conns {
		socks[i], clients[i] = rawLegacy(t, addr, fmt.Sprintf("idle-%d", i))
	}
	time.Sleep(100 * time.Millisecond) // every reader parked
	before := memInuse()
	// Each connection's first ping (no payload), answered with a pong
	// (masked, as client frames are).
	for i, br := range clients {
		_ = socks[i].SetDeadline(time.Now().Add(5 * time.Second))
		if op, p, err := readServerFrame(br); err != nil || op != 0x9 || len(p) != 0 {
			t.Fatalf("connection %d: frame %#x %q, %v; want a ping without payload", i, op, p, err)
		}
		if _, err := socks[i].Write([]byte{0x8a, 0x80, 1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // every reader parked again
	after := memInuse()
	runtime.KeepAlive(clients) // their buffers count in both measures
	stack := (float64(after.stack) - float64(before.stack)) / conns
	heap := (float64(after.heap) - float64(before.heap)) / conns
	t.Logf("per idle session after its heartbeat: %+.0f bytes of stack, %+.0f bytes of heap", stack, heap)
	if stack+heap > 512 {
		t.Errorf("after a ping and its pong each idle session holds %.0f more bytes of stack and %.0f of heap; want its reader parked again as before, with no buffer", stack, heap)
	}
}

// mem is what goroutine stacks and the heap hold.
type mem struct{ stack, heap uint64 }

// memInuse is what stacks and live heap objects hold, after collections
// that shrink what can shrink and empty the pools.
func memInuse() mem {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return mem{m.StackInuse, m.HeapAlloc}
}

// TestSocketIOPingTimeoutsAreCounted: a Socket.IO client that stops
// answering the Engine.IO heartbeat is ended by it, and counted in the
// edge's ping_timeouts with the legacy clients closed by theirs, as both
// edges' slow consumers are counted together.
func TestSocketIOPingTimeoutsAreCounted(t *testing.T) {
	ed, sessions, _, addr := heartbeatEdge(t, 100*time.Millisecond, 100*time.Millisecond)
	ctx := testenv.Context(t, 20*time.Second)
	dialPubSub(ctx, t, addr, "silent", true) // connected, then it reads nothing: no pong
	testenv.Eventually(t, "the silent Socket.IO client's session to end", 5*time.Second, func() bool {
		return ed.Stats().SocketIO == 0 && sessions() == 0
	})
	if n := ed.Stats().PingTimeouts; n != 1 {
		t.Fatalf("ping_timeouts %d, want 1", n)
	}
}
