package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// badMessages are arguments of a Socket.IO backend's "message" event that
// do not make the channel message {"channel":C,"seq":N,"data":D} (nil: no
// argument at all).
var badMessages = map[string][]byte{
	"negative seq":   []byte(`{"channel":"c","seq":-1,"data":"bad"}`),
	"string seq":     []byte(`{"channel":"c","seq":"7","data":"bad"}`),
	"fractional seq": []byte(`{"channel":"c","seq":1.5,"data":"bad"}`),
	"no channel":     []byte(`{"seq":1,"data":"bad"}`),
	"channel number": []byte(`{"channel":5,"seq":1,"data":"bad"}`),
	"no data":        []byte(`{"channel":"c","seq":1}`),
	"no argument":    nil,
	"not an object":  []byte(`"bad"`),
}

// badMessageBackend is a Socket.IO backend that acks a subscribe at seq 0
// and, once told "go", emits bad as a "message" and then message 1 of
// channel "c", data "ok"; it also emits that message after each subscribe
// that follows the "go" (a session's re-attach). The bad message does not
// follow an ack: the end it causes races no request.
func badMessageBackend(t *testing.T, bad []byte) string {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	good := []byte(`{"channel":"c","seq":1,"data":"ok"}`)
	var sent atomic.Bool
	n := srv.Of("/")
	n.On("subscribe", func(s *sio.Socket, e *sio.Event) {
		_ = e.Ack([]byte(`{"ok":true,"seq":0}`))
		if sent.Load() {
			_ = s.Emit("message", good)
		}
	})
	n.On("go", func(s *sio.Socket, _ *sio.Event) {
		sent.Store(true)
		if bad == nil {
			_ = s.Emit("message")
		} else {
			_ = s.Emit("message", bad)
		}
		_ = s.Emit("message", good)
	})
	return backendtest.ServeSIO(t, srv)
}

// A Socket.IO backend's "message" event that is not a channel message
// (a seq of -1, "7" or 1.5, no channel or one that is no string, no data)
// never reaches a client: it ends the backend connection as a protocol
// violation, as the same frame from a legacy backend does, and the
// session re-attaches and gets the channel's messages again. Passed on as
// a custom event named "message", it reached a legacy client as a
// "message" frame its decoder rejects, which ended the client's
// connection (legacyclient: protocol violation), and a Socket.IO client
// as a "message" event that is not one (or, without data, as message 1
// with data null).
func TestE2EMalformedMessageFromSocketIOBackend(t *testing.T) {
	for name, bad := range badMessages {
		t.Run(name, func(t *testing.T) {
			t.Run("legacy", func(t *testing.T) {
				f := frontOnSIOBackend(t, badMessageBackend(t, bad))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				r := f.dialRaw(t, ctx, "bad-legacy") // read fails the test on a frame legacy.Decode rejects
				r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":1,"channel":"c"}`)
				if a := r.read(ctx); a.Type != legacy.TypeAck || a.ID != 1 {
					t.Fatalf("got %+v, want the subscribe's ack", a)
				}
				r.write(ctx, websocket.MessageText, `{"type":"go"}`)
				if m := r.read(ctx); m.Type != legacy.TypeMessage || m.Channel != "c" || m.Seq != 1 || string(m.Data) != `"ok"` {
					t.Fatalf("got %s %s %d %s, want message c 1 \"ok\"", m.Type, m.Channel, m.Seq, m.Data)
				}
				r.ping(ctx, 2)
			})
			t.Run("socket.io", func(t *testing.T) {
				f := frontOnSIOBackend(t, badMessageBackend(t, bad))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				s := f.sioSocket(t, ctx, "bad-sio")
				if err := s.Subscribe(ctx, "c", nil); err != nil {
					t.Fatalf("subscribe: %v", err)
				}
				if err := s.Emit(ctx, "go"); err != nil {
					t.Fatal(err)
				}
				select {
				case ev := <-s.Events():
					if ev.Name != "message" || ev.Message == nil || ev.Message.Channel != "c" || ev.Message.Seq != 1 || string(ev.Message.Data) != `"ok"` {
						t.Fatalf("got event %q %q, want message 1 of c, data \"ok\"", ev.Name, ev.Args)
					}
				case <-s.Done():
					t.Fatalf("socket closed: %v", s.Err())
				case <-ctx.Done():
					t.Fatal("no message")
				}
			})
		})
	}
}
