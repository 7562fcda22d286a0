package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// TestLegacyPipelinedRequests: a legacy client that writes thousands of
// requests at once (publishes of 4 KiB on a channel it is subscribed to,
// each bringing an ack and a message, with pings, subscribes,
// unsubscribes and custom requests between them) and starts reading a moment later gets
// every answer, in request order, and every message, in seq order, on
// either backend: more answers than its outbound queue holds are the
// gateway's own doing, not a sign that the client is slow, so the gateway
// stops reading the client's requests until it has written their answers
// (as TCP would make a writer wait) rather than closing it as a slow
// consumer. The gateway's send buffers are fixed, so that the 12 MB of
// answers overflow them and the default queue (4 MiB) however fast the
// gateway runs. TestPipelinedPublishesWithASmallQueue runs a small queue.
func TestLegacyPipelinedRequests(t *testing.T) {
	for _, backend := range []struct {
		name   string
		weight router.Weight
		custom bool // the backend answers a request it does not know
	}{{"blue", 0, true}, {"green", router.Full, false}} {
		t.Run(backend.name, func(t *testing.T) {
			ed, g, addr := startEdgeWith(t, edge.Options{
				DrainPeriod:  time.Millisecond,
				WriteTimeout: time.Minute,
			}, func(ln net.Listener) net.Listener { return smallSendBuffers{ln} })
			ctx := testenv.Context(t, 60*time.Second)
			if _, _, err := g.SetWeight(ctx, backend.weight); err != nil {
				t.Fatal(err)
			}
			// The client's receive buffer is left to grow: fixed below the
			// loopback's segment size, with the client's requests also
			// stopped by a full window, TCP falls back on its window probes
			// and crawls.
			ws, _, err := websocket.Dial(ctx, "ws://"+addr+edge.LegacyPath+"?user=pipelining", nil)
			if err != nil {
				t.Fatal(err)
			}
			ws.SetReadLimit(-1)
			t.Cleanup(func() { _ = ws.CloseNow() })
			c := &pubsubClient{ws: ws}
			if f := c.readText(ctx, t); !strings.Contains(f, `"welcome"`) {
				t.Fatalf("first frame %s, want welcome", f)
			}
			c.subscribe(ctx, t, "p")
			testPipelinedRequests(ctx, t, ed, c, backend.custom)
		})
	}
}

// pipelinedRequest is the legacy request with id: mostly publishes of
// data on channel p, and now and then another kind (with custom, a custom
// request). answer is the type of its answer.
func pipelinedRequest(id uint64, data string, custom bool) (frame, answer string) {
	switch id % 50 {
	case 10:
		return fmt.Sprintf(`{"type":"ping","id":%d}`, id), "pong"
	case 20:
		return fmt.Sprintf(`{"type":"unsubscribe","id":%d,"channel":"other"}`, id), "ack"
	case 30:
		if custom {
			// The backend knows no such request: the answer is an error.
			return fmt.Sprintf(`{"type":"custom","id":%d}`, id), "error"
		}
	case 40:
		return fmt.Sprintf(`{"type":"subscribe","id":%d,"channel":"s%d"}`, id, id), "ack"
	}
	return fmt.Sprintf(`{"type":"publish","id":%d,"channel":"p","data":%s}`, id, data), "ack"
}

func testPipelinedRequests(ctx context.Context, t *testing.T, ed *edge.Server, c *pubsubClient, custom bool) {
	t.Helper()
	const n = 3000
	data := `"` + strings.Repeat("a", 4096) + `"`
	first := c.lastID + 1
	frames := make([]string, n)
	var publishes uint64
	for i := range frames {
		frames[i], _ = pipelinedRequest(first+uint64(i), data, custom)
		if strings.Contains(frames[i], `"publish"`) {
			publishes++
		}
	}
	writeWhileReading(ctx, t, ed, c, frames, func() error {
		next := first  // the id of the next answer
		var seq uint64 // of the last message
		for next < first+n || seq < publishes {
			_, b, err := c.ws.Read(ctx)
			if err != nil {
				return fmt.Errorf("after %d answers and %d messages: %w (stats %+v)", next-first, seq, err, ed.Stats())
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				return fmt.Errorf("frame %.80s: %w", b, err)
			}
			_, answer := pipelinedRequest(next, data, custom)
			switch {
			case f.Type == "message" && f.Seq == seq+1 && string(f.Data) == data:
				seq++
			case f.Type == answer && f.ID == next:
				next++
			default:
				return fmt.Errorf("got %.80s after answer %d and message %d", b, next-first, seq)
			}
		}
		return nil
	})
}

// writeWhileReading writes frames to c back to back while readAll, started
// 300 ms later as a busy client would, reads what they bring; then no
// client may have been closed as a slow consumer.
func writeWhileReading(ctx context.Context, t *testing.T, ed *edge.Server, c *pubsubClient, frames []string, readAll func() error) {
	t.Helper()
	got := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // a busy client
		got <- readAll()
	}()
	for i, f := range frames {
		if err := c.ws.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatalf("request %d: %v; reading: %v", i, err, <-got) // the reader ends with the connection
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if st := ed.Stats(); st.SlowConsumers != 0 {
		t.Errorf("stats %+v: want no slow consumer", st)
	}
}

// TestPipelinedPublishesWithASmallQueue: a client that writes thousands
// of publishes at once on a channel it is subscribed to (with a subscribe
// now and then) and starts reading a moment later gets every answer, in
// request order, and every message, in seq order, with a queue of 64
// messages, on either edge and either backend. A publish's message comes
// back from the backend after its ack, so the edge must count the
// messages its client's publishes still bring, not only its queue, before
// it reads the next request: the messages of publishes already acked,
// still on their way, would otherwise overflow the half of the queue the
// reader leaves free.
func TestPipelinedPublishesWithASmallQueue(t *testing.T) {
	for _, tc := range protocols {
		for _, backend := range backendWeights {
			t.Run(tc.name+"/"+backend.name, func(t *testing.T) {
				opts := smallQueue()
				opts.WriteTimeout = time.Minute
				ed, g, addr := startEdgeWith(t, opts, func(ln net.Listener) net.Listener { return smallSendBuffers{ln} })
				ctx := testenv.Context(t, 60*time.Second)
				if _, _, err := g.SetWeight(ctx, backend.weight); err != nil {
					t.Fatal(err)
				}
				// The client's receive buffer is left to grow (see
				// TestLegacyPipelinedRequests).
				c := dialPubSubWith(ctx, t, http.DefaultClient, addr, "pipelining", tc.socketIO)
				c.subscribe(ctx, t, "p")
				testPipelinedPublishes(ctx, t, ed, c, 0)
			})
		}
	}
}

// testPipelinedPublishes writes the pipelined requests on channel p,
// whose last message the client read is seq0, and checks what comes back.
func testPipelinedPublishes(ctx context.Context, t *testing.T, ed *edge.Server, c *pubsubClient, seq0 uint64) {
	t.Helper()
	const n = 4000
	data := []byte(`"` + strings.Repeat("a", 4096) + `"`)
	frames := make([]string, n)
	first := c.lastID + 1
	var publishes uint64
	for i := range frames {
		if i%50 == 25 {
			_, frames[i] = c.encodeRequest("subscribe", fmt.Sprintf("s%d", i), nil)
			continue
		}
		_, frames[i] = c.encodeRequest("publish", "p", data)
		publishes++
	}
	writeWhileReading(ctx, t, ed, c, frames, func() error {
		next := first // the id of the next answer
		seq := seq0   // of the last message
		for next < first+n || seq < seq0+publishes {
			r, err := c.next(ctx)
			switch {
			case err != nil:
				return fmt.Errorf("after %d answers and %d messages: %w (stats %+v)", next-first, seq, err, ed.Stats())
			case r.message && r.seq == seq+1:
				seq++
			case r.ack && r.id == next:
				next++
			default:
				return fmt.Errorf("got %+v after answer %d and message %d", r, next-first, seq)
			}
		}
		return nil
	})
}

// TestPublishBeforeSubscribeDoesNotStallTheReader: a client that publishes
// on a channel and then subscribes to it (announce, then listen) gets no
// message for that publish: the subscribe's ack places the session after
// it. The edge counts the publishes' messages still to come (see
// TestPipelinedPublishesWithASmallQueue), and once it catches up with
// them it must not wait for one the session will never deliver, which
// would hold the client's requests for a second (collectWait) every time.
// Each round publishes on a new channel, subscribes to it, then publishes
// more than half the queue on the client's channel, so that the reader
// catches up once in each.
func TestPublishBeforeSubscribeDoesNotStallTheReader(t *testing.T) {
	const rounds, publishes = 5, 40
	for _, tc := range protocols {
		for _, backend := range backendWeights {
			t.Run(tc.name+"/"+backend.name, func(t *testing.T) {
				_, g, addr := startEdgeWith(t, smallQueue())
				ctx := testenv.Context(t, 60*time.Second)
				if _, _, err := g.SetWeight(ctx, backend.weight); err != nil {
					t.Fatal(err)
				}
				c := dialPubSubWith(ctx, t, http.DefaultClient, addr, "announcer", tc.socketIO)
				c.subscribe(ctx, t, "p")
				start := time.Now()
				var seq uint64 // of the last message on p
				for round := range rounds {
					first := c.lastID + 1
					c.request(ctx, t, "publish", fmt.Sprintf("q%d", round), []byte(`"hello"`))
					c.request(ctx, t, "subscribe", fmt.Sprintf("q%d", round), nil)
					for range publishes {
						c.request(ctx, t, "publish", "p", []byte(`1`))
					}
					for next, last := first, seq+publishes; next <= c.lastID || seq < last; {
						r, err := c.next(ctx)
						switch {
						case err != nil:
							t.Fatalf("round %d: %v", round, err)
						case r.message && r.seq > seq:
							seq = r.seq
						case r.ack && r.id == next:
							next++
						default:
							t.Fatalf("round %d: got %+v after answer %d and message %d", round, r, next-first, seq)
						}
					}
				}
				// Without a wait for a message that never comes, the rounds
				// take milliseconds; with it, a second each.
				if took := time.Since(start); took > rounds*time.Second/2 {
					t.Fatalf("%d rounds took %v: the reader waited for the messages of publishes made before their channel's subscribe", rounds, took)
				}
			})
		}
	}
}

// TestPublishesNotEchoedDoNotStallTheReader: a backend that does not send
// a client's publishes back to it (a chat service that leaves out the
// sender) holds the client's reader up at most once per channel, for the
// one wait that finds out, not at every catch-up.
func TestPublishesNotEchoedDoNotStallTheReader(t *testing.T) {
	const publishes = 300 // about ten catch-ups with a queue of 64
	for _, tc := range protocols {
		t.Run(tc.name, func(t *testing.T) {
			noEcho := func(d upstream.Dialer) upstream.Dialer { return dropChannel{d, "p"} }
			_, _, addr := startEdgeDialing(t, smallQueue(), nil, noEcho)
			ctx := testenv.Context(t, 60*time.Second)
			c := dialPubSubWith(ctx, t, http.DefaultClient, addr, "sender", tc.socketIO)
			c.subscribe(ctx, t, "p")
			start := time.Now()
			first := c.lastID + 1
			for range publishes {
				c.request(ctx, t, "publish", "p", []byte(`1`))
			}
			for next := first; next <= c.lastID; {
				r, err := c.next(ctx)
				switch {
				case err != nil:
					t.Fatalf("after %d answers: %v", next-first, err)
				case r.ack && r.id == next:
					next++
				default:
					t.Fatalf("got %+v after answer %d", r, next-first)
				}
			}
			// One wait of a second finds out that the messages do not
			// come; a wait at every catch-up would take ten.
			if took := time.Since(start); took > 4*time.Second {
				t.Fatalf("%d publishes took %v: the reader waited at every catch-up for messages the backend does not send", publishes, took)
			}
		})
	}
}

// dropChannel is a dialer whose connections never deliver the messages
// of one channel, as a backend that does not echo a client's publishes.
type dropChannel struct {
	upstream.Dialer
	channel string
}

func (d dropChannel) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	return d.Dialer.Dial(ctx, dropHandler{h, d.channel})
}

type dropHandler struct {
	upstream.Handler
	channel string
}

func (h dropHandler) HandleEvent(ev upstream.Event) {
	if ev.Kind == upstream.KindMessage && ev.Channel == h.channel {
		return
	}
	h.Handler.HandleEvent(ev)
}

// backendWeights are the gateway's weights that put a session on each
// backend.
var backendWeights = []struct {
	name   string
	weight router.Weight
}{{"blue", 0}, {"green", router.Full}}

// smallQueue is the edge of the pipelining tests: a queue of 64 messages,
// and no heartbeat to get in the way.
func smallQueue() edge.Options {
	return edge.Options{
		Edge: config.Edge{
			OutboundQueue: config.Queue{Messages: 64, Bytes: 1 << 20},
			PingInterval:  10 * time.Minute,
			PingTimeout:   time.Minute,
		},
		DrainPeriod: time.Millisecond,
	}
}
