package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/service"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// startEdge serves an edge over a gateway whose sessions all go to a
// legacy backend, on loopback; it returns the edge and its /ws URL.
func startEdge(t *testing.T) (*edge.Server, string) {
	t.Helper()
	ed, _, addr := startEdgeWith(t, edge.Options{DrainPeriod: time.Millisecond})
	return ed, "ws://" + addr + edge.LegacyPath + "?user=u1"
}

// startEdgeWith is startEdge with opts (Gateway is set here); it returns
// the edge, its gateway and its host:port. wrap, if given, wraps the
// listener.
func startEdgeWith(t *testing.T, opts edge.Options, wrap ...func(net.Listener) net.Listener) (*edge.Server, *gateway.Gateway, string) {
	t.Helper()
	return startEdgeOn(t, opts, nil, wrap...)
}

// startEdgeOn is startEdgeWith with green's faults (nil: none).
func startEdgeOn(t *testing.T, opts edge.Options, greenFaults *service.Faults, wrap ...func(net.Listener) net.Listener) (*edge.Server, *gateway.Gateway, string) {
	t.Helper()
	return startEdgeDialing(t, opts, greenFaults, nil, wrap...)
}

// startEdgeDialing is startEdgeOn with blue's dialer wrapped by wrapBlue
// (nil: none).
func startEdgeDialing(t *testing.T, opts edge.Options, greenFaults *service.Faults, wrapBlue func(upstream.Dialer) upstream.Dialer, wrap ...func(net.Listener) net.Listener) (*edge.Server, *gateway.Gateway, string) {
	t.Helper()
	return startEdgeOver(t, opts, newBroker(t), greenFaults, wrapBlue, wrap...)
}

// newBroker is the backends' broker, closed when the test ends.
func newBroker(t *testing.T) broker.Broker {
	t.Helper()
	b, err := membroker.New(membroker.Options{HistorySize: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// startEdgeOver is startEdgeDialing with both backends on b.
func startEdgeOver(t *testing.T, opts edge.Options, b broker.Broker, greenFaults *service.Faults, wrapBlue func(upstream.Dialer) upstream.Dialer, wrap ...func(net.Listener) net.Listener) (*edge.Server, *gateway.Gateway, string) {
	t.Helper()
	ed, g, addr, _ := startEdgeBlue(t, opts, b, greenFaults, wrapBlue, wrap...)
	return ed, g, addr
}

// startEdgeBlue is startEdgeOver that also returns the blue backend,
// where the sessions go.
func startEdgeBlue(t *testing.T, opts edge.Options, b broker.Broker, greenFaults *service.Faults, wrapBlue func(upstream.Dialer) upstream.Dialer, wrap ...func(net.Listener) net.Listener) (*edge.Server, *gateway.Gateway, string, *backendtest.Backend) {
	t.Helper()
	blue, green := backendtest.Legacy(t, b), backendtest.SocketIOWithFaults(t, b, greenFaults)
	table, err := router.NewTable("baton", 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	blueDialer := blue.Dialer()
	if wrapBlue != nil {
		blueDialer = wrapBlue(blueDialer)
	}
	g, err := gateway.New(gateway.Options{Router: router.New(table), Blue: blueDialer, Green: green.Dialer()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Close(ctx)
	})
	opts.Gateway = g
	ed, err := edge.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the listener's: runs after it closes and before
	// the gateway closes.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ed.Shutdown(ctx); err != nil {
			t.Errorf("edge shutdown: %v", err)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrap {
		ln = w(ln)
	}
	srv := &http.Server{Handler: ed, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ed, g, ln.Addr().String(), blue
}

type frame struct {
	Type    string          `json:"type"`
	ID      uint64          `json:"id"`
	Channel string          `json:"channel"`
	Seq     uint64          `json:"seq"`
	Data    json.RawMessage `json:"data"`
}

func read(ctx context.Context, t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

// dialLegacy connects a legacy client to url and reads its welcome; ctx
// bounds the test (20 s).
func dialLegacy(t *testing.T, url string) (context.Context, *websocket.Conn) {
	t.Helper()
	ctx := testenv.Context(t, 20*time.Second)
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	if f := read(ctx, t, c); f.Type != "welcome" {
		t.Fatalf("first frame %+v, want welcome", f)
	}
	return ctx, c
}

// TestLegacyServeAndShutdown: a legacy client is served off the handler
// (welcome, subscribe, publish with its message, ping), and a graceful
// shutdown closes it with 1001 and ends its connection.
func TestLegacyServeAndShutdown(t *testing.T) {
	ed, url := startEdge(t)
	ctx, c := dialLegacy(t, url)
	send := func(s string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"type":"subscribe","id":1,"channel":"c"}`)
	if f := read(ctx, t, c); f.Type != "ack" || f.ID != 1 {
		t.Fatalf("subscribe answer %+v", f)
	}
	send(`{"type":"publish","id":2,"channel":"c","data":{"n":1}}`)
	// The ack and the message may come in either order.
	got := map[string]frame{}
	for range 2 {
		f := read(ctx, t, c)
		got[f.Type] = f
	}
	if a, m := got["ack"], got["message"]; a.ID != 2 || a.Seq == 0 || m.Channel != "c" || m.Seq != a.Seq || string(m.Data) != `{"n":1}` {
		t.Fatalf("publish answers %+v", got)
	}
	send(`{"type":"ping","id":3}`)
	if f := read(ctx, t, c); f.Type != "pong" || f.ID != 3 {
		t.Fatalf("ping answer %+v", f)
	}
	if st := ed.Stats(); st.Legacy != 1 || st.Accepted != 1 {
		t.Fatalf("stats while open: %+v", st)
	}

	// The client keeps reading so that the close handshake completes.
	closed := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		closed <- err
	}()
	if err := ed.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("client read after shutdown: %v, want 1001", err)
	}
	if st := ed.Stats(); st.Legacy != 0 {
		t.Fatalf("stats after shutdown: %+v", st)
	}
}

// TestLegacyPipelinedPublishes: a client may send publishes without
// waiting for their answers, more than the edge keeps in flight at once
// (the reader waits for a free slot); every one is answered, with its own
// id, and every message arrives once, in seq order, after a bad frame
// sent in their midst has its own answer.
func TestLegacyPipelinedPublishes(t *testing.T) {
	_, url := startEdge(t)
	ctx, c := dialLegacy(t, url)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":1,"channel":"p"}`)); err != nil {
		t.Fatal(err)
	}
	if f := read(ctx, t, c); f.Type != "ack" || f.ID != 1 {
		t.Fatalf("subscribe answer %+v", f)
	}
	const n = 50
	for i := range n {
		msg := fmt.Sprintf(`{"type":"publish","id":%d,"channel":"p","data":%d}`, 100+i, i)
		if i == n/2 {
			msg = `{"type":"publish","id":99,"channel":"p"` // malformed
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	acks := map[uint64]uint64{} // id -> seq
	var seqs []uint64
	badAnswered := false
	for len(acks)+len(seqs) < 2*(n-1) || !badAnswered {
		f := read(ctx, t, c)
		switch f.Type {
		case "ack":
			if _, dup := acks[f.ID]; dup || f.ID < 100 || f.ID >= 100+n || f.Seq == 0 {
				t.Fatalf("ack %+v (have %d)", f, len(acks))
			}
			acks[f.ID] = f.Seq
		case "message":
			if n := len(seqs); n > 0 && f.Seq != seqs[n-1]+1 {
				t.Fatalf("message seq %d after %d", f.Seq, seqs[n-1])
			}
			seqs = append(seqs, f.Seq)
		case "error":
			if f.ID != 0 && f.ID != 99 || badAnswered {
				t.Fatalf("error %+v", f)
			}
			badAnswered = true
		default:
			t.Fatalf("unexpected %+v", f)
		}
	}
	if len(acks) != n-1 || len(seqs) != n-1 {
		t.Fatalf("%d acks and %d messages for %d publishes", len(acks), len(seqs), n-1)
	}
}

// TestLegacyQueuesCopiesOfLentBytes: an event's bytes are lent to the
// sink (they lie in the backend connection's read buffer, which the next
// read reuses), so what the edge queues, and what it holds for a pending
// subscribe, must not change when the lender writes over them.
func TestLegacyQueuesCopiesOfLentBytes(t *testing.T) {
	ed, url := startEdge(t)
	ctx, c := dialLegacy(t, url)
	sink, hold := edge.LegacySink(ed)

	queued := []byte(`"queued"`)
	if err := sink.Deliver(upstream.Event{Kind: upstream.KindMessage, Channel: "a", Seq: 1, Data: queued}); err != nil {
		t.Fatal(err)
	}
	release := hold("b")
	held := []byte(`"held"`)
	if err := sink.Deliver(upstream.Event{Kind: upstream.KindMessage, Channel: "b", Seq: 1, Data: held}); err != nil {
		t.Fatal(err)
	}
	copy(queued, `"xxxxxx"`)
	copy(held, `"yyyy"`)
	sink.Flush()
	release()

	for _, want := range []struct{ channel, data string }{{"a", `"queued"`}, {"b", `"held"`}} {
		f := read(ctx, t, c)
		if f.Type != "message" || f.Channel != want.channel || string(f.Data) != want.data {
			t.Fatalf("got %+v (data %s), want channel %s's message %s", f, f.Data, want.channel, want.data)
		}
	}
}

// TestLegacyBurstsAllocateNothing: bursts of messages past the 16 frames
// a fresh batch holds, each flushed, reuse pooled batches: neither the
// queue nor the encodings allocate per burst.
func TestLegacyBurstsAllocateNothing(t *testing.T) {
	if testenv.Race {
		t.Skip("the race detector makes sync.Pool drop batches on purpose")
	}
	ed, url := startEdge(t)
	dialLegacy(t, url) // the client does not read: nothing allocates on its side
	sink, _ := edge.LegacySink(ed)
	data := []byte(`{"n":1}`)
	seq := uint64(0)
	burst := func() {
		for range 40 {
			seq++
			if err := sink.Deliver(upstream.Event{Kind: upstream.KindMessage, Channel: "c", Seq: seq, Data: data}); err != nil {
				t.Fatal(err)
			}
		}
		sink.Flush()
	}
	// 21 bursts of 40 small frames stay far below the socket's buffer, so
	// every Flush writes all of it without a writer.
	if n := testing.AllocsPerRun(20, burst); n != 0 {
		t.Errorf("%v allocations per burst of 40 messages, want 0", n)
	}
}
