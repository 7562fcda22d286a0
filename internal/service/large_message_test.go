package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// Limits.Validate accepts OutboundBytes equal to MaxMessageBytes: "a
// single largest message must fit the queue". A message a client was
// allowed to publish reaches an idle subscriber, which is not closed as a
// slow consumer (its queue charges more than the data: the frame around
// it).
func TestLargestMessageFitsAnIdleQueue(t *testing.T) {
	lim := Limits{MaxMessageBytes: 1024, OutboundBytes: 1024}
	if err := lim.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	env := startLegacy(t, envOptions{limits: lim})
	_ = testenv.Context(t, 30*time.Second)
	sub := env.dialRaw(t, nil)
	sub.send(`{"type":"subscribe","id":1,"channel":"c"}`)
	if f := sub.read(); f.Type != legacy.TypeAck || f.ID != 1 {
		t.Fatalf("got %+v, want subscribe ack", f)
	}
	pub := env.dialRaw(t, nil)
	head := `{"type":"publish","id":1,"channel":"c","data":"`
	frame := head + strings.Repeat("x", 1024-len(head)-2) + `"}`
	if len(frame) != 1024 {
		t.Fatalf("frame is %d bytes", len(frame))
	}
	pub.send(frame)
	if f := pub.read(); f.Type != legacy.TypeAck || f.Seq != 1 {
		t.Fatalf("publisher got %+v, want ack seq 1", f)
	}
	f := sub.read()
	if f.Type != legacy.TypeMessage || f.Seq != 1 {
		t.Fatalf("idle subscriber got %+v, want message seq 1", f)
	}
	if n := env.l.Stats().SlowConsumers; n != 0 {
		t.Fatalf("slow consumers %d, want 0", n)
	}
}

// A Socket.IO subscribe with since whose first replayed message is larger
// than half the outbound queue's byte bound (a valid configuration). The
// subscribe's ack waits in the queue for the reader's flush, and the
// replay, on that same reader, waits for room: it flushes first, so the ack
// goes out, then the message, rather than the subscribe hanging until its
// timeout and the connection closing as "subscription lost".
func TestSocketIOReplayOfALargeMessage(t *testing.T) {
	e := startSocketIO(t, SocketIOConfig{
		Limits:         Limits{MaxMessageBytes: 3000, OutboundBytes: 4096},
		RequestTimeout: 3 * time.Second,
	}, membroker.Options{})
	ctx := testenv.Context(t, 30*time.Second)
	if _, err := e.b.Publish(ctx, "c", []byte(`"`+strings.Repeat("x", 2500)+`"`)); err != nil {
		t.Fatal(err)
	}
	sub := e.dialSIO(t)
	start := time.Now()
	sub.send(`420["subscribe",{"channel":"c","since":0}]`)
	var frames []string
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for len(frames) < 2 {
		_, b, err := sub.ws.Read(rctx)
		if err != nil {
			t.Fatalf("after %v, with frames %.40q: %v; stats %+v", time.Since(start).Round(time.Millisecond), frames, err, e.svc.Stats())
		}
		frames = append(frames, string(b))
	}
	if frames[0] != `430[{"ok":true,"seq":1}]` || !strings.Contains(frames[1], `"seq":1,`) {
		t.Fatalf("got %.60q, want the ack then message seq 1", frames)
	}
	if st := e.svc.Stats(); st.Lost != 0 {
		t.Fatalf("stats %+v: the subscription was lost", st)
	}
}
