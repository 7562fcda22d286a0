package upstream_test

import (
	"slices"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// customServer is a Socket.IO server with renamed pub/sub events and a few
// custom ones, on loopback.
func customServer(t *testing.T) string {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	n := srv.Of("/")
	n.On("sub", func(s *sio.Socket, e *sio.Event) {
		_ = e.Ack([]byte(`{"ok":true,"seq":7}`))
		_ = s.Emit("msg", []byte(`{"channel":"c","seq":8,"data":{"k": [1, 2]}}`))
	})
	n.On("pub", func(_ *sio.Socket, e *sio.Event) {
		_ = e.Ack([]byte(`{"error":"history_gone: nothing kept"}`))
	})
	n.On("leave", func(_ *sio.Socket, e *sio.Event) {
		_ = e.Ack([]byte(`{"error":{"code":"not_subscribed","message":"no"}}`))
	})
	n.On("echo", func(_ *sio.Socket, e *sio.Event) { _ = e.Ack(e.Args...) })
	n.On("hello", func(s *sio.Socket, e *sio.Event) { _ = s.Emit("greet", e.Args...) })
	return backendtest.ServeSIO(t, srv)
}

// TestSocketIOMappingAndCustomEvents: renamed pub/sub events, error acks
// in both shapes, and custom events both ways, arguments kept verbatim.
func TestSocketIOMappingAndCustomEvents(t *testing.T) {
	ctx := testenv.Context(t, 20*time.Second)
	d := &upstream.SocketIODialer{Options: upstream.Options{
		URL:     customServer(t),
		Mapping: upstream.Mapping{Subscribe: "sub", Unsubscribe: "leave", Publish: "pub", Message: "msg"},
	}}
	rec := newRecorder()
	c, err := d.Dial(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	pos, err := c.Subscribe(ctx, "c", 0, false)
	if err != nil || pos != (upstream.Position{Seq: 7, HasSeq: true}) {
		t.Fatalf("subscribe: %+v, %v", pos, err)
	}
	rec.waitFor(t, "renamed message", func(evs []upstream.Event, _ bool) bool { return len(messages(evs, "c")) == 1 })
	if m := messages(rec.events, "c")[0]; m.Seq != 8 || string(m.Data) != `{"k": [1, 2]}` {
		t.Fatalf("message %+v", m)
	}
	if _, err := c.Publish(ctx, "c", []byte(`1`)); !upstream.IsCode(err, "history_gone") {
		t.Fatalf("publish: %v, want history_gone", err)
	}
	if err := c.Unsubscribe(ctx, "c"); !upstream.IsCode(err, "not_subscribed") {
		t.Fatalf("unsubscribe: %v, want not_subscribed", err)
	}

	args := [][]byte{[]byte(`1.50e+2`), []byte(`{"b":1, "a":"\u00e9"}`)}
	reply, err := c.Request(ctx, "echo", args)
	if err != nil || !slices.EqualFunc(reply, args, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("echo: %q, %v", reply, err)
	}
	if err := c.Emit(ctx, "hello", [][]byte{[]byte(`{"x": 1}`)}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "greet", func(evs []upstream.Event, _ bool) bool {
		return slices.ContainsFunc(evs, func(ev upstream.Event) bool { return ev.Kind == upstream.KindEvent && ev.Name == "greet" })
	})
	for _, ev := range rec.events {
		if ev.Name == "greet" && (len(ev.Args) != 1 || string(ev.Args[0]) != `{"x": 1}`) {
			t.Fatalf("greet args %q", ev.Args)
		}
	}
	if err := c.Emit(ctx, "x", [][]byte{[]byte(`{`)}); err == nil {
		t.Fatal("emit with invalid JSON succeeded")
	}
}
