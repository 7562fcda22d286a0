package eio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/engineio"
)

// twice answers every message with two packets, as a pub/sub service
// answers a publish to a channel the client is subscribed to: the ack
// (held for the reader's flush, like a Socket.IO ack) and the message.
type twice struct{ echo }

func (h *twice) OnMessage(c *Conn, data []byte, _ bool) {
	_ = c.SendHeld(engineio.Packet{Type: engineio.Message, Data: append([]byte("a"), data...)})
	_ = c.SendText(append([]byte("m"), data...))
}

// startTwice runs a twice server whose queue holds queue packets, with a
// heartbeat slow enough to stay out of the way unless pingTimeout is
// short.
func startTwice(t *testing.T, queue int, pingTimeout time.Duration) *testServer {
	t.Helper()
	h := &twice{echo{closed: make(chan error, 64)}}
	return serveHandler(t, Config{
		PingInterval: time.Minute, PingTimeout: pingTimeout,
		QueuePackets: queue, DrainPeriod: 50 * time.Millisecond,
	}, h, &h.echo)
}

// pipelined is one POST body of n message packets "0" .. "n-1".
func pipelined(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "4" + strconv.Itoa(i)
	}
	return strings.Join(parts, "\x1e")
}

// poller GETs like the official client: a new poll as soon as the last
// one is answered, while the POST is pending, until it has want message
// packets, an error, or pause is set (then it stops after the poll in
// flight, as the client does when it upgrades).
type poller struct {
	got   []string // message packets' data, in arrival order
	err   error
	pause atomic.Bool
	done  chan struct{}
}

func startPoller(ts *testServer, sid string, want int) *poller {
	p := &poller{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for len(p.got) < want && !p.pause.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.pollURL(sid), nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				cancel()
				p.err = err
				return
			}
			body, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			cancel()
			if err != nil || res.StatusCode != http.StatusOK {
				p.err = fmt.Errorf("poll: %d %q %v", res.StatusCode, body, err)
				return
			}
			for pk, err := range engineio.Packets(body) {
				switch {
				case err != nil:
					p.err = err
					return
				case pk.Type == engineio.Close:
					p.err = errors.New("poll: the server closed the session")
					return
				case pk.Type == engineio.Message:
					p.got = append(p.got, string(pk.Data))
				}
			}
		}
	}()
	return p
}

// wait returns once the poller has stopped, failing the test after 10s.
func (p *poller) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("poller still running after 10s, %d packets", len(p.got))
	}
}

// checkPairs checks that got holds, for each of n requests in order, its
// answer and its message.
func checkPairs(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != 2*n {
		t.Fatalf("got %d packets, want %d", len(got), 2*n)
	}
	next := map[byte]int{'a': 0, 'm': 0}
	for _, s := range got {
		if s == "" || s[0] != 'a' && s[0] != 'm' || s[1:] != strconv.Itoa(next[s[0]]) {
			t.Fatalf("packet %q out of order (next a%d, m%d)", s, next['a'], next['m'])
		}
		next[s[0]]++
	}
}

// A polling client reads only with its GETs: one POST of many requests
// causes more answers than the outbound queue holds, however fast the
// client polls meanwhile, as the official client does. The POST waits
// for the client to collect them rather than close it as a slow consumer.
func TestPollingPipelinedPOSTIsNotASlowConsumer(t *testing.T) {
	const queue, n = 32, 500
	ts := startTwice(t, queue, 10*time.Second)
	sid := ts.openPolling(t)
	p := startPoller(ts, sid, 2*n)
	status, body, _ := do(t, "POST", ts.pollURL(sid), pipelined(n))
	if status != http.StatusOK || body != "ok" {
		t.Fatalf("POST: %d %q", status, body)
	}
	p.wait(t)
	if p.err != nil {
		t.Fatalf("after %d of %d packets: %v (slow consumers: %d)", len(p.got), 2*n, p.err, ts.srv.Stats().SlowConsumers)
	}
	checkPairs(t, p.got, n)
	if s := ts.srv.Stats().SlowConsumers; s != 0 {
		t.Fatalf("%d slow consumers", s)
	}
}

// A client that collects nothing while its POST waits is slow after all:
// it is closed as a slow consumer once the ping timeout has passed without
// a GET, and its POST is answered.
func TestPollingPOSTNeverCollectedClosesSlowConsumer(t *testing.T) {
	ts := startTwice(t, 32, 300*time.Millisecond)
	sid := ts.openPolling(t)
	status, body, _ := do(t, "POST", ts.pollURL(sid), pipelined(100))
	if status != http.StatusOK || body != "ok" {
		t.Fatalf("POST: %d %q", status, body)
	}
	if err := ts.closeReason(t); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("close reason %v, want ErrSlowConsumer", err)
	}
	if s := ts.srv.Stats().SlowConsumers; s != 1 {
		t.Fatalf("%d slow consumers, want 1", s)
	}
}

// A client that upgrades while its large POST waits for its GETs: once the
// probe is answered the official client stops polling and waits for its
// POST before it sends the upgrade packet, so the probe is answered only
// once the POST is done, and everything arrives, the rest over WebSocket.
func TestPollingProbeWaitsForPendingPOST(t *testing.T) {
	const queue, n = 32, 300
	ts := startTwice(t, queue, 10*time.Second)
	sid := ts.openPolling(t)
	c := ts.srv.lookup(sid)
	posted := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.pollURL(sid), strings.NewReader(pipelined(n)))
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("POST: HTTP %d", res.StatusCode)
			}
		}
		posted <- err
	}()
	testenv.Eventually(t, "the POST to wait for a GET", 5*time.Second, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.posting && c.mustCollectLocked()
	})

	ws := dial(t, ts.wsURL("EIO=4&transport=websocket&sid="+sid))
	send(t, ws, "2probe")
	p := startPoller(ts, sid, 2*n)
	if _, msg := read(t, ws); msg != "3probe" {
		t.Fatalf("probe answer %q", msg)
	}
	p.pause.Store(true) // the client pauses polling
	select {
	case err := <-posted: // and waits for its POST
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("POST not answered")
	}
	p.wait(t)
	if p.err != nil {
		t.Fatalf("after %d packets: %v (slow consumers: %d)", len(p.got), p.err, ts.srv.Stats().SlowConsumers)
	}
	send(t, ws, "5")
	got := p.got
	for len(got) < 2*n {
		_, msg := read(t, ws)
		if msg[0] == byte(engineio.Message) {
			got = append(got, msg[1:])
		}
	}
	checkPairs(t, got, n)
	if s := ts.srv.Stats().SlowConsumers; s != 0 {
		t.Fatalf("%d slow consumers", s)
	}
}
