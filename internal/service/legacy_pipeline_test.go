package service

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// TestLegacyPipelinedRequests: a client that writes thousands of requests
// at once (publishes of 4 KiB on a channel it is subscribed to, each
// bringing an ack and a message, with pings, subscribes, unsubscribes and
// unknown requests between them) and starts reading a moment later gets
// every answer, in request order, and every message, in seq order: more
// answers than its outbound queue holds are the service's own doing, not
// a sign that the client is slow, so the service stops reading the
// client's requests until its writer has taken their answers (as TCP
// would make a writer wait) rather than closing it as a slow consumer.
// The queue is small and the service's send buffers fixed, so that the
// answers overflow them however fast the service runs. The messages reach
// the queue from the hub's goroutine, after their acks: counted only once
// queued, those still on their way would overflow the half of the queue
// the reader leaves free.
func TestLegacyPipelinedRequests(t *testing.T) {
	env := startLegacy(t, envOptions{
		limits:   Limits{OutboundMessages: 256, OutboundBytes: 1 << 20},
		listener: smallBufferListener{loopbackListener(t)},
	})
	c := env.dialRaw(t, nil) // its receive buffer left to grow
	c.send(`{"type":"subscribe","id":1,"channel":"p"}`)
	if f := c.read(); f.Type != legacy.TypeAck || f.ID != 1 {
		t.Fatalf("got %+v, want the subscribe ack", f)
	}
	const n = 3000
	data := `"` + strings.Repeat("a", 4096) + `"`
	request := func(id uint64) (frame, answer string) {
		switch id % 50 {
		case 10:
			return fmt.Sprintf(`{"type":"ping","id":%d}`, id), legacy.TypePong
		case 20:
			return fmt.Sprintf(`{"type":"unsubscribe","id":%d,"channel":"other"}`, id), legacy.TypeAck
		case 30:
			return fmt.Sprintf(`{"type":"custom","id":%d}`, id), legacy.TypeError // unknown_type
		case 40:
			return fmt.Sprintf(`{"type":"subscribe","id":%d,"channel":"s%d"}`, id, id), legacy.TypeAck
		}
		return fmt.Sprintf(`{"type":"publish","id":%d,"channel":"p","data":%s}`, id, data), legacy.TypeAck
	}
	const first = 2
	var publishes uint64
	for id := uint64(first); id < first+n; id++ {
		if f, _ := request(id); strings.Contains(f, `"publish"`) {
			publishes++
		}
	}
	ctx := testenv.Context(t, 60*time.Second)
	got := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // a busy client
		next := uint64(first)              // the id of the next answer
		var seq uint64                     // of the last message
		for next < first+n || seq < publishes {
			_, b, err := c.ws.Read(ctx)
			if err != nil {
				got <- fmt.Errorf("after %d answers and %d messages: %w (stats %+v)", next-first, seq, err, env.l.Stats())
				return
			}
			f, err := legacy.Decode(b)
			if err != nil {
				got <- fmt.Errorf("frame %.80s: %w", b, err)
				return
			}
			_, answer := request(next)
			switch {
			case f.Type == legacy.TypeMessage && f.Seq == seq+1 && string(f.Data) == data:
				seq++
			case f.Type == answer && f.ID == next:
				next++
			default:
				got <- fmt.Errorf("got %.80s after answer %d and message %d", b, next-first, seq)
				return
			}
		}
		got <- nil
	}()
	for id := uint64(first); id < first+n; id++ {
		f, _ := request(id)
		if err := c.ws.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatalf("request %d: %v; reading: %v", id, err, <-got) // the reader ends with the connection
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if st := env.l.Stats(); st.SlowConsumers != 0 {
		t.Errorf("stats %+v: want no slow consumer", st)
	}
}

// TestLegacyPipeliningClientThatDoesNotRead: a client that keeps writing
// requests and never reads is still closed as a slow consumer, and soon:
// the reader waits for a writer that writes nothing only a while, then
// reads on and the overflow rule applies.
//
// The client keeps its default receive buffer: with one of a few KiB
// (smallReadBufferClient), a client that writes while it does not read
// stalls its own TCP connection on loopback now and then: its receive
// buffer overfull, it drops the server's segments, acknowledgements of
// its own data among them, and both ends back off for seconds, the
// service reading nothing meanwhile.
func TestLegacyPipeliningClientThatDoesNotRead(t *testing.T) {
	env := startLegacy(t, envOptions{
		limits:   Limits{OutboundMessages: 256, OutboundBytes: 1 << 20},
		listener: smallBufferListener{loopbackListener(t)},
	})
	c := env.dialRaw(t, nil)
	c.send(`{"type":"subscribe","id":1,"channel":"p"}`)
	if f := c.read(); f.Type != legacy.TypeAck || f.ID != 1 {
		t.Fatalf("got %+v, want the subscribe ack", f)
	}
	ctx := testenv.Context(t, 30*time.Second)
	data := `"` + strings.Repeat("a", 4096) + `"`
	written := make(chan error, 1)
	go func() { // until the service closes the connection
		for id := 2; ; id++ {
			f := fmt.Sprintf(`{"type":"publish","id":%d,"channel":"p","data":%s}`, id, data)
			if err := c.ws.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
				written <- err
				return
			}
		}
	}()
	start := time.Now()
	if !testenv.Poll(10*time.Second, func() bool { return env.l.Stats().SlowConsumers == 1 }) {
		t.Fatalf("a client writing for 10 s without reading was kept: %+v", env.l.Stats())
	}
	t.Logf("closed as a slow consumer after %v", time.Since(start))
	_ = c.ws.CloseNow()
	<-written
}
