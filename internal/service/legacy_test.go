package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// nextMessage waits for one message on c.
func nextMessage(t *testing.T, c *legacyclient.Client) legacyclient.Message {
	t.Helper()
	select {
	case m, ok := <-c.Messages():
		if !ok {
			t.Fatalf("connection ended: %v", c.Err())
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a message")
	}
	panic("unreachable")
}

func TestLegacyPubSubTwoClients(t *testing.T) {
	env := startLegacy(t, envOptions{})
	ctx := testenv.Context(t, 30*time.Second)
	a, b := env.dial(t), env.dial(t)
	if a.Session() == "" || a.Session() == b.Session() {
		t.Fatalf("sessions %q and %q: want distinct, non-empty", a.Session(), b.Session())
	}
	for _, c := range []*legacyclient.Client{a, b} {
		if seq, err := c.Subscribe(ctx, "room", nil); err != nil || seq != 0 {
			t.Fatalf("Subscribe = %d, %v; want seq 0", seq, err)
		}
	}
	data := `{ "text" : "héllo \u00e9", "n": [1, 2.50] }`
	seq, err := a.Publish(ctx, "room", []byte(data))
	if err != nil || seq != 1 {
		t.Fatalf("Publish = %d, %v; want seq 1", seq, err)
	}
	for _, c := range []*legacyclient.Client{a, b} {
		m := nextMessage(t, c)
		if m.Channel != "room" || m.Seq != 1 || string(m.Data) != data {
			t.Fatalf("got %+v (data %s), want room/1 with data byte-identical", m, m.Data)
		}
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	// After an acked unsubscribe, a receives nothing more from room.
	if err := a.Unsubscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unsubscribe(ctx, "room"); err != nil {
		t.Fatalf("second Unsubscribe should be acked too: %v", err)
	}
	if seq, err := b.Publish(ctx, "room", []byte(`2`)); err != nil || seq != 2 {
		t.Fatalf("Publish = %d, %v", seq, err)
	}
	if m := nextMessage(t, b); m.Seq != 2 {
		t.Fatalf("b got seq %d, want 2", m.Seq)
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-a.Messages():
		t.Fatalf("a got %+v after unsubscribing", m)
	default:
	}

	// A subscribe ack reports the channel's newest seq.
	if seq, err := a.Subscribe(ctx, "room", nil); err != nil || seq != 2 {
		t.Fatalf("re-Subscribe = %d, %v; want seq 2", seq, err)
	}
	if st := env.l.Stats(); st.Connections != 2 || st.Accepted != 2 || st.Published != 2 || st.Hub.Channels != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLegacySinceReplayWhilePublishing(t *testing.T) {
	env := startLegacy(t, envOptions{broker: membroker.Options{HistorySize: 5000}})
	ctx := testenv.Context(t, 30*time.Second)
	live := env.dial(t) // keeps the channel active in the hub throughout
	if _, err := live.Subscribe(ctx, "feed", nil); err != nil {
		t.Fatal(err)
	}
	const total = 600
	for i := range 100 {
		if _, err := env.b.Publish(ctx, "feed", fmt.Appendf(nil, "%d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 1)
	go func() {
		for i := 100; i < total; i++ {
			if _, err := env.b.Publish(ctx, "feed", fmt.Appendf(nil, "%d", i+1)); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()

	late := env.dial(t)
	pos, err := late.Subscribe(ctx, "feed", legacyclient.Since(40))
	if err != nil || pos < 100 {
		t.Fatalf("Subscribe since 40 = %d, %v; want a position >= 100", pos, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for want := uint64(41); want <= total; want++ {
		m := nextMessage(t, late)
		if m.Seq != want || string(m.Data) != fmt.Sprint(want) {
			t.Fatalf("got seq %d data %s, want seq %d (gap or duplicate)", m.Seq, m.Data, want)
		}
	}
	if err := late.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-late.Messages():
		t.Fatalf("extra message %+v", m)
	default:
	}
}

func TestLegacySlowConsumer(t *testing.T) {
	env := startLegacy(t, envOptions{
		limits:   Limits{OutboundMessages: 8, OutboundBytes: 64 << 10, MaxMessageBytes: 16 << 10},
		listener: smallBufferListener{loopbackListener(t)},
	})
	ctx := testenv.Context(t, 30*time.Second)
	slow := env.dialRaw(t, &websocket.DialOptions{HTTPClient: smallReadBufferClient()})
	slow.send(`{"type":"subscribe","channel":"firehose","id":1}`)
	if f := slow.read(); f.Type != legacy.TypeAck || f.ID != 1 {
		t.Fatalf("got %+v, want the subscribe ack", f)
	}
	fast := env.dial(t)
	if _, err := fast.Subscribe(ctx, "firehose", nil); err != nil {
		t.Fatal(err)
	}
	seqs := make(chan uint64, 6000)
	go func() { // the fast client keeps reading
		for m := range fast.Messages() {
			seqs <- m.Seq
		}
		close(seqs)
	}()

	// Publish in lockstep with the fast client, so only the slow one can
	// fall behind.
	payload := []byte(`"` + strings.Repeat("x", 4000) + `"`)
	fastGot := func(want uint64) {
		t.Helper()
		select {
		case seq, ok := <-seqs:
			if !ok || seq != want {
				t.Fatalf("fast client got seq %d (open %v), want %d; err %v", seq, ok, want, fast.Err())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fast client stalled before seq %d", want)
		}
	}
	var published uint64
	for i := 0; i < 2000 && env.l.Stats().SlowConsumers == 0; i++ {
		m, err := env.b.Publish(ctx, "firehose", payload)
		if err != nil {
			t.Fatal(err)
		}
		published = m.Seq
		fastGot(published)
	}
	if n := env.l.Stats().SlowConsumers; n != 1 {
		t.Fatalf("slow consumers = %d after %d messages, want 1", n, published)
	}
	// The slow client, reading at last, finds its stream closed with 1008.
	var err error
	for range 10000 {
		if _, _, err = slow.ws.Read(ctx); err != nil {
			break
		}
	}
	if code := websocket.CloseStatus(err); code != CloseSlowConsumer {
		t.Fatalf("slow client ended with %v (status %d), want %d", err, code, CloseSlowConsumer)
	}
	var ce websocket.CloseError
	if errors.As(err, &ce); ce.Reason != legacy.ReasonSlowConsumer {
		t.Fatalf("close reason %q, want %q", ce.Reason, legacy.ReasonSlowConsumer)
	}
	// The fast client is unaffected.
	for range 3 {
		m, err := env.b.Publish(ctx, "firehose", payload)
		if err != nil {
			t.Fatal(err)
		}
		fastGot(m.Seq)
	}
	if n := env.l.Stats().SlowConsumers; n != 1 {
		t.Fatalf("slow consumers = %d, want 1", n)
	}
}

func TestLegacyShutdownClosesWith1001(t *testing.T) {
	env := startLegacy(t, envOptions{limits: Limits{DrainPeriod: 200 * time.Millisecond}})
	ctx := testenv.Context(t, 30*time.Second)
	var clients []*legacyclient.Client
	for range 3 {
		c := env.dial(t)
		if _, err := c.Subscribe(ctx, "c", nil); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := env.l.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, c := range clients {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("client %d still open after Shutdown", i)
		}
		if code := websocket.CloseStatus(c.Err()); code != CloseShutdown {
			t.Fatalf("client %d ended with %v, want status %d", i, c.Err(), CloseShutdown)
		}
	}
	if _, err := legacyclient.Dial(ctx, env.wsURL, legacyclient.Options{}); err == nil {
		t.Fatal("Dial after Shutdown succeeded")
	}
	if st := env.l.Stats(); st.Connections != 0 {
		t.Fatalf("connections after shutdown: %d", st.Connections)
	}
}

func TestLegacySubscriptionLost(t *testing.T) {
	env := startLegacy(t, envOptions{})
	ctx := testenv.Context(t, 30*time.Second)
	c := env.dial(t)
	if _, err := c.Subscribe(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	_ = env.b.Close()
	select {
	case f := <-c.Events():
		if f.Type != legacy.TypeError || f.Code != legacy.CodeSubscriptionLost || f.Channel != "c" {
			t.Fatalf("event %+v, want subscription_lost on c", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription_lost event")
	}
	// The connection stays usable.
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := c.Publish(ctx, "c", []byte(`1`))
	var se *legacyclient.ServerError
	if !errors.As(err, &se) || se.Code != legacy.CodeInternal {
		t.Fatalf("publish on a closed broker: %v, want server error internal", err)
	}
}
