package edge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
)

// The overflow tests fill a client's outbound queue the real way: the
// client stops reading, the kernel's socket buffers fill, the connection's
// writer blocks and the queue behind it overflows. The queue is tiny, so
// only the socket buffers take many messages to fill; maxPublish bounds
// that. Another client on the same channel publishes every message and
// reads everything, so publishing is paced by its round trips.

const (
	overflowChannel = "firehose"
	maxPublish      = 4000 // messages of payloadBytes: far beyond any loopback buffering
	payloadBytes    = 16 << 10
	maxMarkers      = 200 // publishes while the stalled client catches up
)

// protocols are the two edges the overflow tests run against.
var protocols = []struct {
	name     string
	socketIO bool
}{{"legacy", false}, {"socketio", true}}

// overflowEdge serves an edge whose queues hold 4 messages, under rule.
// Heartbeats and write timeouts are far out of reach: the stalled client
// is ended only by the overflow rule. Its sockets have small, fixed send
// buffers: left to grow, loopback's take megabytes, and a client that
// stops reading would leave the edge's writer unblocked for a long while.
func overflowEdge(t *testing.T, rule string) (*edge.Server, string) {
	t.Helper()
	ed, _, addr := startEdgeWith(t, edge.Options{
		Edge: config.Edge{
			MaxMessageBytes: 64 << 10,
			OutboundQueue:   config.Queue{Messages: 4, Bytes: 64 << 10},
			Overflow:        rule,
			PingInterval:    10 * time.Minute,
			PingTimeout:     time.Minute,
		},
		WriteTimeout: 10 * time.Minute,
		DrainPeriod:  time.Millisecond,
	}, func(ln net.Listener) net.Listener { return smallSendBuffers{ln} })
	return ed, addr
}

// smallReceiveBuffers dials with receive buffers fixed at 16 KiB, for the
// same reason as smallSendBuffers.
var smallReceiveBuffers = &http.Client{Transport: &http.Transport{
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(16 << 10)
		}
		return c, err
	},
}}

// smallSendBuffers fixes its connections' send buffers at 16 KiB.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// overflowPair serves an edge under rule with two clients of one protocol
// subscribed to overflowChannel: a publisher that reads everything, and
// one that will stop reading. ctx bounds the test (60 s).
func overflowPair(t *testing.T, rule string, socketIO bool) (*edge.Server, context.Context, *publisher, *pubsubClient) {
	t.Helper()
	ed, addr := overflowEdge(t, rule)
	ctx := testenv.Context(t, 60*time.Second)
	pub := &publisher{pubsubClient: dialPubSub(ctx, t, addr, "pub", socketIO)}
	pub.subscribe(ctx, t, overflowChannel)
	stalled := dialPubSub(ctx, t, addr, "stalled", socketIO)
	stalled.subscribe(ctx, t, overflowChannel)
	return ed, ctx, pub, stalled
}

// fillUntilDropped publishes until a few messages were dropped, under
// drop_newest: then the stalled client's queue is full and its writer
// blocked. It returns the payload published.
func fillUntilDropped(ctx context.Context, t *testing.T, ed *edge.Server, pub *publisher) []byte {
	t.Helper()
	data := payload()
	for n := 0; n < maxPublish && ed.Stats().Dropped < 5; n++ {
		pub.publish(ctx, t, overflowChannel, data)
	}
	if ed.Stats().Dropped < 5 {
		t.Fatal("the queue never filled")
	}
	// A publish returns on the publisher's ack, which can come before the
	// gateway has handled the stalled client's copy: let the last copies
	// land (queued or dropped) so that the drops are counted before the
	// caller reads them.
	last, still := ed.Stats().Dropped, 0
	for i := 0; i < 100 && still < 4; i++ {
		time.Sleep(25 * time.Millisecond)
		if d := ed.Stats().Dropped; d != last {
			last, still = d, 0
			continue
		}
		still++
	}
	return data
}

// received is what a test client reads, whatever its protocol.
type received struct {
	message bool   // a message on a channel
	ack     bool   // the answer to request id
	id      uint64 // of an ack
	seq     uint64 // of a message, or returned by a publish ack
}

// pubsubClient is just enough of a legacy or a Socket.IO client, over a
// raw WebSocket, to subscribe, publish and read messages, and to stop
// reading at will.
type pubsubClient struct {
	ws       *websocket.Conn
	socketIO bool
	lastID   uint64
}

// dialPubSub connects user over the legacy or the Socket.IO protocol
// (the main namespace, WebSocket transport) and waits until the session
// is attached.
func dialPubSub(ctx context.Context, t *testing.T, addr, user string, socketIO bool) *pubsubClient {
	t.Helper()
	return dialPubSubWith(ctx, t, smallReceiveBuffers, addr, user, socketIO)
}

// dialPubSubWith is dialPubSub through client.
func dialPubSubWith(ctx context.Context, t *testing.T, client *http.Client, addr, user string, socketIO bool) *pubsubClient {
	t.Helper()
	url := "ws://" + addr + edge.LegacyPath + "?user=" + user
	if socketIO {
		url = "ws://" + addr + edge.SocketIOPath + "?EIO=4&transport=websocket&user=" + user
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &pubsubClient{ws: ws, socketIO: socketIO}
	if !socketIO {
		if f := c.readText(ctx, t); !strings.Contains(f, `"welcome"`) {
			t.Fatalf("first legacy frame %s, want welcome", f)
		}
		return c
	}
	if f := c.readText(ctx, t); !strings.HasPrefix(f, "0{") {
		t.Fatalf("first Engine.IO packet %q, want open", f)
	}
	c.write(ctx, t, "40")
	if f := c.readText(ctx, t); !strings.HasPrefix(f, "40{") {
		t.Fatalf("answer to CONNECT %q", f)
	}
	return c
}

func (c *pubsubClient) readText(ctx context.Context, t *testing.T) string {
	t.Helper()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (c *pubsubClient) write(ctx context.Context, t *testing.T, s string) {
	t.Helper()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

// request sends a subscribe or publish on channel and returns its id.
func (c *pubsubClient) request(ctx context.Context, t *testing.T, kind, channel string, data []byte) uint64 {
	t.Helper()
	id, frame := c.encodeRequest(kind, channel, data)
	c.write(ctx, t, frame)
	return id
}

// encodeRequest gives the next request an id and encodes it.
func (c *pubsubClient) encodeRequest(kind, channel string, data []byte) (id uint64, frame string) {
	c.lastID++
	ch, _ := json.Marshal(channel)
	body := fmt.Sprintf(`"channel":%s`, ch)
	if data != nil {
		body += `,"data":` + string(data)
	}
	if c.socketIO {
		return c.lastID, fmt.Sprintf(`42%d["%s",{%s}]`, c.lastID, kind, body)
	}
	return c.lastID, fmt.Sprintf(`{"type":"%s","id":%d,%s}`, kind, c.lastID, body)
}

// next reads until a message or an ack; a Socket.IO ping is answered on
// the way. It does not fail the test, so that it may run on a goroutine.
func (c *pubsubClient) next(ctx context.Context) (received, error) {
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			return received{}, err
		}
		r, skip, err := c.decode(b)
		if err != nil || !skip {
			return r, err
		}
		if c.socketIO && string(b) == "2" {
			if err := c.ws.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
				return received{}, err
			}
		}
	}
}

// decode reads one frame; skip means it is neither a message nor an ack.
func (c *pubsubClient) decode(b []byte) (r received, skip bool, err error) {
	var v struct {
		Type string `json:"type"`
		ID   uint64 `json:"id"`
		Seq  uint64 `json:"seq"`
		OK   bool   `json:"ok"`
	}
	s := string(b)
	switch {
	case !c.socketIO:
		if err := json.Unmarshal(b, &v); err != nil {
			return r, false, fmt.Errorf("legacy frame %s: %w", b, err)
		}
		switch v.Type {
		case "message":
			return received{message: true, seq: v.Seq}, false, nil
		case "ack":
			return received{ack: true, id: v.ID, seq: v.Seq}, false, nil
		}
		return r, true, nil
	case strings.HasPrefix(s, `42["message",`):
		var args []json.RawMessage
		if err := json.Unmarshal(b[2:], &args); err != nil || len(args) != 2 || json.Unmarshal(args[1], &v) != nil {
			return r, false, fmt.Errorf("message event %.80s: bad arguments", b)
		}
		return received{message: true, seq: v.Seq}, false, nil
	case strings.HasPrefix(s, "43"):
		// 43<id>[{"ok":true,...}]
		idText, argsText, _ := strings.Cut(s[2:], "[")
		id, err := strconv.ParseUint(idText, 10, 64)
		var args []json.RawMessage
		if err != nil || json.Unmarshal([]byte("["+argsText), &args) != nil || len(args) != 1 ||
			json.Unmarshal(args[0], &v) != nil || !v.OK {
			return r, false, fmt.Errorf("ack %s: not a success", b)
		}
		return received{ack: true, id: id, seq: v.Seq}, false, nil
	}
	return r, true, nil
}

// subscribe subscribes to channel; nothing else may be waiting to be read.
func (c *pubsubClient) subscribe(ctx context.Context, t *testing.T, channel string) {
	t.Helper()
	id := c.request(ctx, t, "subscribe", channel, nil)
	r, err := c.next(ctx)
	if err != nil || !r.ack || r.id != id {
		t.Fatalf("subscribe answer %+v, %v", r, err)
	}
}

// publisher publishes on a channel it is subscribed to and reads back
// each message, recording every seq it receives.
type publisher struct {
	*pubsubClient
	got []uint64
}

// publish publishes data and returns its seq once both the ack and the
// message have arrived.
func (p *publisher) publish(ctx context.Context, t *testing.T, channel string, data []byte) uint64 {
	t.Helper()
	id := p.request(ctx, t, "publish", channel, data)
	var seq uint64
	for seq == 0 || len(p.got) == 0 || p.got[len(p.got)-1] < seq {
		r, err := p.next(ctx)
		if err != nil {
			t.Fatalf("publisher reading: %v", err)
		}
		switch {
		case r.message:
			p.got = append(p.got, r.seq)
		case r.ack && r.id == id:
			seq = r.seq
		default:
			t.Fatalf("publisher got %+v while waiting for the answer to %d", r, id)
		}
	}
	return seq
}

// payload is a JSON string of payloadBytes.
func payload() []byte { return []byte(`"` + strings.Repeat("x", payloadBytes) + `"`) }

// TestOverflowDropNewest: under drop_newest a client that stops reading
// loses the messages that do not fit, counted as Dropped, and stays
// connected: once it reads again it gets the later messages, each once and
// in order, and what it got plus what was dropped is exactly what was
// published. The publisher on the same channel gets every message. Small
// messages fill the socket before the queue, so the legacy edge's
// non-blocking write leaves a part owed to its writer; large ones go to
// the writer whole.
func TestOverflowDropNewest(t *testing.T) {
	for _, tc := range protocols {
		for _, size := range []struct {
			name string
			data []byte
		}{{"large", payload()}, {"small", []byte(`"s"`)}} {
			t.Run(tc.name+"/"+size.name, func(t *testing.T) {
				testDropNewest(t, tc.socketIO, size.data)
			})
		}
	}
}

func testDropNewest(t *testing.T, socketIO bool, data []byte) {
	ed, ctx, pub, stalled := overflowPair(t, config.OverflowDropNewest, socketIO)

	// The stalled client reads nothing until something is dropped.
	var published []uint64
	for st := ed.Stats(); len(published) < maxPublish && st.Dropped == 0 && st.SlowConsumers == 0; st = ed.Stats() {
		published = append(published, pub.publish(ctx, t, overflowChannel, data))
	}
	if st := ed.Stats(); st.Dropped == 0 || st.SlowConsumers != 0 {
		t.Fatalf("after %d messages: %+v, want a drop and no slow consumer", len(published), st)
	}

	// It reads again; markers are published until it gets one,
	// so every earlier message has reached it or been dropped.
	msgs := make(chan uint64)
	readErr := make(chan error, 1)
	go func() {
		defer close(msgs)
		for {
			r, err := stalled.next(ctx)
			if err != nil {
				readErr <- err
				return
			}
			if r.message {
				select {
				case msgs <- r.seq:
				case <-ctx.Done(): // the test has failed
					return
				}
			}
		}
	}()
	var got []uint64
	caughtUp := false
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for markers := 0; !caughtUp; markers++ {
		if markers == maxMarkers {
			t.Fatalf("the client that read again got none of %d later messages", maxMarkers)
		}
		dropped := ed.Stats().Dropped
		seq := pub.publish(ctx, t, overflowChannel, data)
		published = append(published, seq)
	wait: // until this marker arrives or something more is dropped
		for {
			select {
			case s, ok := <-msgs:
				if !ok {
					t.Fatalf("the client that dropped messages was closed: %v", <-readErr)
				}
				got = append(got, s)
				if s == seq {
					caughtUp = true
					break wait
				}
			case <-tick.C:
				if ed.Stats().Dropped > dropped {
					break wait
				}
			case <-ctx.Done():
				t.Fatalf("marker %d neither delivered nor dropped", seq)
			}
		}
	}

	st := ed.Stats()
	t.Logf("published %d, the stalled client got %d, dropped %d", len(published), len(got), st.Dropped)
	if st.SlowConsumers != 0 || st.Legacy+st.SocketIO != 2 {
		t.Errorf("stats %+v: want no slow consumer and both clients open", st)
	}
	if !isSubsequence(got, published) {
		t.Errorf("the client that dropped messages got seqs %v, not an ordered subset of %v", got, published)
	}
	if uint64(len(got))+st.Dropped != uint64(len(published)) {
		t.Errorf("received %d + dropped %d, want the %d published", len(got), st.Dropped, len(published))
	}
	if !slices.Equal(pub.got, published) {
		t.Errorf("the publisher got %d messages, want all %d published, in order", len(pub.got), len(published))
	}
	_ = stalled.ws.CloseNow()
	for range msgs { // the reader ends with the connection
	}
}

// TestOverflowDisconnectSocketIO: under disconnect a Socket.IO client that
// stops reading is closed as a slow consumer and nothing is dropped; the
// publisher on the same channel gets every message and stays. (The same
// rule for a legacy client: gateway's TestE2ESlowConsumer.)
func TestOverflowDisconnectSocketIO(t *testing.T) {
	ed, ctx, pub, stalled := overflowPair(t, config.OverflowDisconnect, true)

	data := payload()
	var published []uint64
	for len(published) < maxPublish && ed.Stats().SlowConsumers == 0 {
		published = append(published, pub.publish(ctx, t, overflowChannel, data))
	}
	if ed.Stats().SlowConsumers != 1 {
		t.Fatalf("no slow consumer after %d messages: %+v", len(published), ed.Stats())
	}
	// What was written before the close is still in the socket buffers.
	var err error
	for err == nil {
		_, err = stalled.next(ctx)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the slow client was not closed")
	}
	if st := ed.Stats(); st.Dropped != 0 {
		t.Errorf("Dropped = %d under the disconnect rule", st.Dropped)
	}
	// The publisher is still served.
	published = append(published, pub.publish(ctx, t, overflowChannel, data))
	if !slices.Equal(pub.got, published) {
		t.Errorf("the publisher got %d messages, want all %d published, in order", len(pub.got), len(published))
	}
}

// isSubsequence reports whether sub is in order, each element once, a
// subsequence of all.
func isSubsequence(sub, all []uint64) bool {
	i := 0
	for _, s := range sub {
		for i < len(all) && all[i] != s {
			i++
		}
		if i == len(all) {
			return false
		}
		i++
	}
	return true
}

// ask sends request i, one whose answer only this client gets: a
// subscribe to a channel of its own (even i) or a publish on a channel
// nobody is subscribed to. It returns the request's id, or the write's
// error (the server may have closed the connection).
func (c *pubsubClient) ask(ctx context.Context, i int) (uint64, error) {
	kind, channel, data := "publish", "aside", []byte(`"x"`)
	if i%2 == 0 {
		kind, channel, data = "subscribe", fmt.Sprintf("aside-%d", i), nil
	}
	id, frame := c.encodeRequest(kind, channel, data)
	return id, c.ws.Write(ctx, websocket.MessageText, []byte(frame))
}

// TestOverflowDropNewestKeepsAnswers: under drop_newest a client whose
// queue is full still gets every answer to its requests (queued past the
// bound: a legacy ack or a Socket.IO ack), in order, after the messages
// queued before them; only messages with a seq are ever dropped.
func TestOverflowDropNewestKeepsAnswers(t *testing.T) {
	for _, tc := range protocols {
		t.Run(tc.name, func(t *testing.T) {
			ed, ctx, pub, stalled := overflowPair(t, config.OverflowDropNewest, tc.socketIO)
			fillUntilDropped(ctx, t, ed, pub)
			const asks = 5 // within the answers' slack past the bound
			var sent []uint64
			for i := range asks {
				id, err := stalled.ask(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				sent = append(sent, id)
			}
			var got []uint64
			for len(got) < asks {
				r, err := stalled.next(ctx)
				if err != nil {
					t.Fatalf("waiting for answer %d of %v past the full queue: %v (stats %+v)", len(got)+1, sent, err, ed.Stats())
				}
				if r.ack {
					got = append(got, r.id)
				}
			}
			if !slices.Equal(got, sent) {
				t.Fatalf("answers %v, want %v: each once, in order", got, sent)
			}
			if st := ed.Stats(); st.SlowConsumers != 0 || st.Legacy+st.SocketIO != 2 {
				t.Errorf("stats %+v: want no slow consumer and both clients open", st)
			}
		})
	}
}

// TestOverflowAnswersSlackIsBounded: a client that keeps asking with a
// full queue and never reads is closed as a slow consumer, counted, once
// its answers pass the bound's slack; the answers are not dropped, the
// queue does not grow without end, and the other client is still served.
func TestOverflowAnswersSlackIsBounded(t *testing.T) {
	for _, tc := range protocols {
		t.Run(tc.name, func(t *testing.T) {
			ed, ctx, pub, stalled := overflowPair(t, config.OverflowDropNewest, tc.socketIO)
			data := fillUntilDropped(ctx, t, ed, pub)
			dropped := ed.Stats().Dropped
			for i := 0; i < 100 && ed.Stats().SlowConsumers == 0; i++ {
				// Once the client is closed a write may fail: the
				// server reset the connection with requests unread.
				if _, err := stalled.ask(ctx, i); err != nil {
					break
				}
			}
			if !testenv.Poll(10*time.Second, func() bool { return ed.Stats().SlowConsumers == 1 }) {
				t.Fatalf("a client asking 100 times without reading was kept: %+v", ed.Stats())
			}
			// What was written before the close is still in the socket
			// buffers; then the connection ends.
			var err error
			for err == nil {
				_, err = stalled.next(ctx)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("the slow client was not closed")
			}
			pub.publish(ctx, t, overflowChannel, data) // the publisher is still served
			// The client sees the end before the server's handler has
			// returned and forgotten the connection.
			testenv.Poll(5*time.Second, func() bool {
				st := ed.Stats()
				return st.Legacy+st.SocketIO == 1
			})
			if st := ed.Stats(); st.SlowConsumers != 1 || st.Dropped != dropped || st.Legacy+st.SocketIO != 1 {
				t.Errorf("stats %+v: want one slow consumer, no answer dropped (Dropped %d) and the publisher open", st, dropped)
			}
		})
	}
}
