package service

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestSocketIOPipelinedPublishes: a Socket.IO client that writes many
// publishes with acks at once, on a channel it is subscribed to, and reads
// a moment later gets every ack, in order, and every message, in seq
// order; it is not closed as a slow consumer. Each publish brings an ack
// and, from the hub's fan-out goroutine, a message: the reader must count
// the messages still on their way, or it reads on while its queue holds
// only acks, and the fan-out, once it catches up, pours more messages into
// the queue than it holds (the interop test's "disconnect (transport
// close) after 679/2000 message events" on a loaded machine).
//
// The fan-out is held until the reader has handled every publish or waits
// for the fan-out, and the client reads only once the fan-out has handed
// out what was published by then: so a reader that does not wait has
// queued all the messages at once, against a client's socket that cannot
// take them (4 MiB of messages, a 64-message queue).
func TestSocketIOPipelinedPublishes(t *testing.T) {
	const (
		n     = 256
		queue = 64
	)
	b := &heldSubscriptions{Broker: newBroker(t, membroker.Options{}), open: make(chan struct{})}
	var opened sync.Once
	open := func() { opened.Do(func() { close(b.open) }) }
	t.Cleanup(open)
	env := smallBufferSIO(t, queue, b)
	svc, c := env.svc, env.dialSIO(t)
	if got := c.request("subscribe", `{"channel":"p"}`); got != `[{"ok":true,"seq":0}]` {
		t.Fatalf("subscribe ack %s", got)
	}

	ctx := testenv.Context(t, 60*time.Second)
	written := publishAtOnce(ctx, c.ws, n)

	testenv.Eventually(t, "every publish handled, or the reader waiting for the fan-out", 10*time.Second, func() bool {
		return svc.Stats().Published == n || fanoutAwaited(svc.hub, "p")
	})
	published := svc.Stats().Published
	open()
	if err := svc.hub.awaitFanout(ctx, "p", published); err != nil {
		t.Fatalf("fan-out up to seq %d: %v", published, err)
	}

	var acks, seq int // the last ack's id, the last message's seq
	for acks < n || seq < n {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			t.Fatalf("after %d acks and %d messages: %v (stats %+v)", acks, seq, err, svc.Stats())
		}
		got := string(b)
		switch {
		case got == "2":
			c.send("3")
		case got == `42["message",{"channel":"p","seq":`+strconv.Itoa(seq+1)+`,"data":`+pipelined+`}]`:
			seq++
		case got == "43"+strconv.Itoa(acks+1)+`[{"ok":true,"seq":`+strconv.Itoa(acks+1)+`}]`:
			acks++
		default:
			t.Fatalf("after %d acks and %d messages: got %.80q", acks, seq, got)
		}
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if st := svc.Stats(); st.SlowConsumers != 0 {
		t.Errorf("stats %+v: want no slow consumer", st)
	}
}

// fanoutAwaited reports whether someone waits in h.awaitFanout for
// channel's fan-out to advance.
func fanoutAwaited(h *Hub, channel string) bool {
	h.mu.Lock()
	c := h.channels[channel]
	h.mu.Unlock()
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.advanced != nil
}

// TestSocketIOSlowSubscriberOfOthersPublishes: the backpressure on a
// client's own publishes does not shelter a subscriber that does not
// read: the messages of another client's publishes that do not fit its
// queue close it as a slow consumer, while the publisher, which reads,
// gets every ack and stays connected.
func TestSocketIOSlowSubscriberOfOthersPublishes(t *testing.T) {
	const (
		n     = 256
		queue = 64
	)
	env := smallBufferSIO(t, queue, newBroker(t, membroker.Options{}))
	svc, slow := env.svc, env.dialSIO(t)
	if got := slow.request("subscribe", `{"channel":"p"}`); got != `[{"ok":true,"seq":0}]` {
		t.Fatalf("subscribe ack %s", got)
	}
	pub := env.dialSIO(t)

	// 4 MiB of messages for the subscriber, which reads none of them.
	ctx := testenv.Context(t, 60*time.Second)
	written := publishAtOnce(ctx, pub.ws, n)
	for acks := 0; acks < n; {
		_, b, err := pub.ws.Read(ctx)
		if err != nil {
			t.Fatalf("publisher, after %d acks: %v (stats %+v)", acks, err, svc.Stats())
		}
		switch got := string(b); {
		case got == "2":
			pub.send("3")
		case got == "43"+strconv.Itoa(acks+1)+`[{"ok":true,"seq":`+strconv.Itoa(acks+1)+`}]`:
			acks++
		default:
			t.Fatalf("publisher, after %d acks: got %.80q", acks, got)
		}
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the subscriber closed as a slow consumer", 10*time.Second, func() bool {
		return svc.Stats().SlowConsumers == 1
	})
	if st := svc.Stats(); st.Connections != 1 {
		t.Errorf("stats %+v: want the publisher still connected", st)
	}
}

// smallBufferSIO serves a Socket.IO service on b with an outbound queue of
// queue messages, its sockets' buffers small (smallBufferListener), so
// that a client that does not read soon fills its queue.
func smallBufferSIO(t *testing.T, queue int, b broker.Broker) *sioEnv {
	t.Helper()
	svc, err := NewSocketIO(SocketIOConfig{Limits: Limits{OutboundMessages: queue, DrainPeriod: 50 * time.Millisecond}}, b)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(svc.Handler())
	srv.Listener = smallBufferListener{loopbackListener(t)}
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
	})
	return &sioEnv{svc: svc, url: srv.URL}
}

// pipelined is the data of publishAtOnce's publishes: 16 KiB.
var pipelined = `"` + strings.Repeat("a", 16<<10) + `"`

// publishAtOnce writes n publishes of 16 KiB on channel "p" to ws, ids 1
// to n, without reading, and sends the outcome on the returned channel.
func publishAtOnce(ctx context.Context, ws *websocket.Conn, n int) <-chan error {
	written := make(chan error, 1)
	go func() {
		for id := 1; id <= n; id++ {
			msg := "42" + strconv.Itoa(id) + `["publish",{"channel":"p","data":` + pipelined + `}]`
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				written <- fmt.Errorf("publish %d: %w", id, err)
				return
			}
		}
		written <- nil
	}()
	return written
}
