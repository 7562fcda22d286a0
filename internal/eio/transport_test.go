package eio

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/engineio"
)

func TestPollingMessages(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	for _, body := range []string{
		"4hello",
		"4test1\x1e4test2\x1e4test3",
		"4hello\x1ebAQIDBA==", // binary travels as base64 on polling
	} {
		sid := ts.openPolling(t)
		if status, got, h := do(t, "POST", ts.pollURL(sid), body); status != 200 || got != "ok" || h.Get("Content-Type") != "text/html" {
			t.Fatalf("POST %q: %d %q %v", body, status, got, h)
		}
		if status, got, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || got != body {
			t.Errorf("poll: %d %q, want %q", status, got, body)
		}
	}
}

func TestPollingInvalidPacketCloses(t *testing.T) {
	ts := startServer(t, Config{})
	sid := ts.openPolling(t)
	do(t, "POST", ts.pollURL(sid), "abc")
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("poll after bad packet: %d", status)
	}
	if err := ts.closeReason(t); !errors.Is(err, ErrParse) {
		t.Errorf("reason %v", err)
	}
}

func TestPollingDuplicateGETCloses(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	first := parkedPoll(t, ts, sid)
	if status, _, _ := do(t, "GET", ts.pollURL(sid)+"&t=burst", ""); status != 400 {
		t.Errorf("second poll: %d", status)
	}
	if r := <-first; r.status != 200 || r.body != "1" {
		t.Errorf("first poll: %d %q", r.status, r.body)
	}
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("third poll: %d", status)
	}
}

func TestPollingClientClose(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	pending := parkedPoll(t, ts, sid)
	if status, _, _ := do(t, "POST", ts.pollURL(sid), "1"); status != 200 {
		t.Errorf("POST close: %d", status)
	}
	if r := <-pending; r.status != 200 || r.body != "6" {
		t.Errorf("pending poll: %d %q, want noop", r.status, r.body)
	}
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("poll after close: %d", status)
	}
	if err := ts.closeReason(t); !errors.Is(err, ErrClientClose) {
		t.Errorf("reason %v", err)
	}
}

// pollResult is the answer to a GET poll.
type pollResult struct {
	status int
	body   string
}

// parkedPoll sends a GET poll for sid in the background and returns once the
// server holds it, so the test can act while it is pending. Its answer
// arrives on the channel.
func parkedPoll(t *testing.T, ts *testServer, sid string) <-chan pollResult {
	t.Helper()
	done := make(chan pollResult, 1)
	go func() {
		status, body, _ := do(t, "GET", ts.pollURL(sid), "")
		done <- pollResult{status, body}
	}()
	testenv.Eventually(t, "the poll to park", 5*time.Second, func() bool {
		c := ts.srv.lookup(sid)
		if c == nil {
			return false
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pollWake != nil
	})
	return done
}

func TestPollingHeartbeat(t *testing.T) {
	// A pong timeout well above a loaded machine's round trip: this test
	// is about the pings, TestPollingPingTimeout about the timeout.
	ts := startServer(t, Config{PingTimeout: 2 * time.Second})
	sid := ts.openPolling(t)
	for range 3 {
		if status, got, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || got != "2" {
			t.Fatalf("poll: %d %q, want ping", status, got)
		}
		if status, _, _ := do(t, "POST", ts.pollURL(sid), "3"); status != 200 {
			t.Fatalf("pong: %d", status)
		}
	}
}

func TestPollingPingTimeout(t *testing.T) {
	ts := startServer(t, Config{})
	sid := ts.openPolling(t)
	if err := ts.closeReason(t); !errors.Is(err, ErrPingTimeout) {
		t.Fatalf("reason %v", err)
	}
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("poll after timeout: %d", status)
	}
}

func TestPollingPayloadTooLarge(t *testing.T) {
	ts := startServer(t, Config{MaxPayload: 100, PingInterval: time.Minute})
	sid := ts.openPolling(t)
	if status, _, _ := do(t, "POST", ts.pollURL(sid), "4"+strings.Repeat("a", 100)); status != 413 {
		t.Errorf("oversized POST: %d", status)
	}
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("poll after 413: %d", status)
	}
	sid = ts.openPolling(t)
	if status, _, _ := do(t, "POST", ts.pollURL(sid), "4"+strings.Repeat("a", 99)); status != 200 {
		t.Errorf("POST at the limit: %d", status)
	}
}

func TestWebSocketMessages(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws) // open
	send(t, ws, "4hello")
	if typ, got := read(t, ws); typ != websocket.MessageText || got != "4hello" {
		t.Errorf("echo %v %q", typ, got)
	}
	ctx := t.Context()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if typ, got := read(t, ws); typ != websocket.MessageBinary || got != "\x01\x02\x03\x04" {
		t.Errorf("binary echo %v %q", typ, got)
	}
}

func TestWebSocketInvalidPacketCloses(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws)
	send(t, ws, "abc")
	waitClosed(t, ws)
	if err := ts.closeReason(t); !errors.Is(err, ErrParse) {
		t.Errorf("reason %v", err)
	}
}

func TestWebSocketHeartbeat(t *testing.T) {
	ts := startServer(t, Config{})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws)
	for range 3 {
		if _, got := read(t, ws); got != "2" {
			t.Fatalf("got %q, want ping", got)
		}
		send(t, ws, "3")
	}
}

func TestWebSocketPingTimeout(t *testing.T) {
	ts := startServer(t, Config{})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws)
	if code := waitClosed(t, ws); code != websocket.StatusNormalClosure {
		t.Errorf("close code %v", code)
	}
	if err := ts.closeReason(t); !errors.Is(err, ErrPingTimeout) {
		t.Errorf("reason %v", err)
	}
}

func TestWebSocketClientClosePacket(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws)
	send(t, ws, "1")
	waitClosed(t, ws)
	if err := ts.closeReason(t); !errors.Is(err, ErrClientClose) {
		t.Errorf("reason %v", err)
	}
}

func TestWebSocketMessageTooBig(t *testing.T) {
	ts := startServer(t, Config{MaxPayload: 100, PingInterval: time.Minute})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws)
	send(t, ws, "4"+strings.Repeat("a", 100))
	if code := waitClosed(t, ws); code != websocket.StatusMessageTooBig {
		t.Errorf("close code %v, want 1009", code)
	}
	if err := ts.closeReason(t); !errors.Is(err, ErrTransport) {
		t.Errorf("reason %v", err)
	}
}

func TestUpgrade(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	ws := probed(t, ts, sid)
	// The poll is released with a noop so the client can pause polling.
	if status, got, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || got != "6" {
		t.Fatalf("poll during upgrade: %d %q", status, got)
	}
	send(t, ws, "5")
	send(t, ws, "4hello")
	if _, got := read(t, ws); got != "4hello" {
		t.Errorf("echo after upgrade %q", got)
	}
	// Polling is over for this sid, and so are further upgrades.
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("poll after upgrade: %d", status)
	}
	ws2 := dial(t, ts.wsURL("EIO=4&transport=websocket&sid="+sid))
	waitClosed(t, ws2)
	send(t, ws, "4still")
	if _, got := read(t, ws); got != "4still" {
		t.Errorf("first websocket after second one: %q", got)
	}
	if n := ts.srv.Stats().Upgrades; n != 1 {
		t.Errorf("upgrades %d", n)
	}
}

// Packets queued while the upgrade is in progress reach the client over
// the new transport, in order.
func TestUpgradeFlushesQueued(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket&sid="+sid))
	send(t, ws, "2probe")
	read(t, ws)
	c := ts.srv.lookup(sid)
	for _, m := range []string{"a", "b", "c"} {
		if err := c.SendText([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	send(t, ws, "5")
	for _, want := range []string{"4a", "4b", "4c"} {
		if _, got := read(t, ws); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// A server-side close drains the queue to the next poll, and the close
// packet goes alone to the one after, as from Node (see
// sio.TestOfficialClientServerCloseBetweenPolls for why not together).
func TestServerCloseDrainsPolling(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	c := ts.srv.lookup(sid)
	_ = c.SendText([]byte("bye"))
	c.Close()
	if status, got, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || got != "4bye" {
		t.Errorf("draining poll: %d %q", status, got)
	}
	if status, got, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || got != "1" {
		t.Errorf("final poll: %d %q", status, got)
	}
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("poll after final: %d", status)
	}
	if err := ts.closeReason(t); !errors.Is(err, ErrClosed) {
		t.Errorf("reason %v", err)
	}
}

// The same with a poll waiting when the server closes: it gets what was
// queued, and the sid stays for the next poll's close packet.
func TestServerCloseDrainsPendingPoll(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	c := ts.srv.lookup(sid)
	pending := parkedPoll(t, ts, sid)
	// Queued without waking the poll, so that the close finds it queued.
	c.mu.Lock()
	c.queue = append(c.queue, outGroup{packets: []engineio.Packet{{Type: engineio.Message, Data: []byte("bye")}}})
	c.mu.Unlock()
	c.Close()
	if r := <-pending; r.status != 200 || r.body != "4bye" {
		t.Errorf("draining poll: %d %q", r.status, r.body)
	}
	if status, got, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || got != "1" {
		t.Errorf("final poll: %d %q", status, got)
	}
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("poll after final: %d", status)
	}
}

func TestServerCloseDrainsWebSocket(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws)
	ts.srv.mu.Lock()
	var c *Conn
	for _, x := range ts.srv.conns {
		c = x
	}
	ts.srv.mu.Unlock()
	_ = c.SendText([]byte("one"))
	_ = c.SendBinary([]byte{9})
	c.Close()
	if _, got := read(t, ws); got != "4one" {
		t.Errorf("got %q", got)
	}
	if typ, got := read(t, ws); typ != websocket.MessageBinary || got != "\x09" {
		t.Errorf("got %v %q", typ, got)
	}
	if code := waitClosed(t, ws); code != websocket.StatusNormalClosure {
		t.Errorf("close code %v", code)
	}
	if err := c.SendText([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
}

// The protocol suite polls exactly pingInterval+pingTimeout after the
// handshake and expects the session to be gone, however late the timers.
func TestPollingExpiredAtDeadline(t *testing.T) {
	ts := startServer(t, Config{})
	for range 3 {
		sid := ts.openPolling(t)
		time.Sleep(500 * time.Millisecond)
		if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
			t.Errorf("poll at the deadline: %d", status)
		}
	}
}

// A session the ping timeout has closed is expired for a request that
// finds it before the server has forgotten its sid (the timer's close and
// the request race on a busy machine): it is refused, not answered with
// the close packet.
func TestExpiredAfterPingTimeout(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	c := ts.srv.lookup(ts.openPolling(t))
	if c.expired() {
		t.Fatal("a fresh session is expired")
	}
	c.fail(ErrPingTimeout, engineio.Close)
	if !c.expired() {
		t.Fatal("a session closed by the ping timeout is not expired")
	}
	other := ts.srv.lookup(ts.openPolling(t))
	other.Close()
	if other.expired() {
		t.Fatal("a session closed by the server counts as expired")
	}
}

// A poll sent right after the probe races the upgrade packet; once the
// upgrade is done it is refused, as it would be had it come later.
func TestPollRacingUpgradeIsRefused(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket&sid="+sid))
	send(t, ws, "2probe")
	read(t, ws)
	poll := parkedPoll(t, ts, sid)
	send(t, ws, "5")
	if r := <-poll; r.status != 400 {
		t.Errorf("poll racing the upgrade: %d", r.status)
	}
	send(t, ws, "4hello")
	if _, got := read(t, ws); got != "4hello" {
		t.Errorf("echo %q", got)
	}
}

// The client's close packet may overtake its last poll: the poll is still
// answered with the noop, and the sid is gone after it.
func TestPollingClientCloseBeforePoll(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	if status, _, _ := do(t, "POST", ts.pollURL(sid), "1"); status != 200 {
		t.Fatalf("POST close: %d", status)
	}
	if status, got, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || got != "6" {
		t.Errorf("poll after close: %d %q", status, got)
	}
	if status, _, _ := do(t, "GET", ts.pollURL(sid), ""); status != 400 {
		t.Errorf("second poll: %d", status)
	}
}
