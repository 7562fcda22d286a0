package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// namedEventBackend is a Socket.IO backend that acks a subscribe (the
// event sub) at seq 0 and, on "go", emits name with arg and then "after"
// {"n":1}.
func namedEventBackend(t *testing.T, sub, name string, arg []byte) string {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	n := srv.Of("/")
	n.On(sub, func(_ *sio.Socket, e *sio.Event) { _ = e.Ack([]byte(`{"ok":true,"seq":0}`)) })
	n.On("go", func(s *sio.Socket, _ *sio.Event) {
		if err := s.Emit(name, arg); err != nil {
			t.Errorf("backend: emit %q: %v", name, err)
		}
		_ = s.Emit("after", []byte(`{"n":1}`))
	})
	return backendtest.ServeSIO(t, srv)
}

// frontOn is a gateway at weight 100 whose green is d, served to clients;
// the edge logs to the returned log.
func frontOn(t *testing.T, d upstream.Dialer) (*env, *front, *modelLog) {
	t.Helper()
	e := setupWrapped(t, router.Full, nil, func(upstream.Dialer) upstream.Dialer { return d })
	logs := &modelLog{}
	return e, startFront(t, e, edge.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}), logs
}

// expectAfter reads the next frame, which must be the backend's "after"
// event; r.read fails the test on a frame legacy.Decode rejects.
func (r *rawLegacy) expectAfter(ctx context.Context) {
	r.t.Helper()
	if f := r.read(ctx); f.Type != "after" || string(f.Raw) != `{"type":"after","n":1}` {
		r.t.Fatalf("got %s %s, want the backend's \"after\" event", f.Type, f.Raw)
	}
}

// A Socket.IO backend's custom event named like one of the legacy
// protocol's frame types ("error" is a common event name in Socket.IO
// apps) reached a legacy client as a frame of that type, which its
// decoder rejects: emit("error","oops") became {"type":"error","args":
// ["oops"]} (legacy: missing field "code"), and legacyclient ends its
// connection on such a frame. Such an event is not carried to a legacy
// client: it is dropped, counted (messages.rejected) and logged (once
// in a while), and the client's next frame is the backend's next event. "message" is a custom
// event when the backend's mapping renames the message event.
func TestE2ELegacyFrameTypeNamedEventFromSocketIOBackend(t *testing.T) {
	for _, name := range []string{"error", "ack", "pong", "welcome", "message", "ping", "publish", "subscribe", "unsubscribe"} {
		t.Run(name, func(t *testing.T) {
			// The pub/sub operations' names are custom events when the
			// mapping renames them.
			m := upstream.DefaultMapping()
			switch name {
			case "message", "subscribe", "unsubscribe", "publish":
				m = upstream.Mapping{Subscribe: "sub", Unsubscribe: "unsub", Publish: "pub", Message: "msg"}
			}
			url := namedEventBackend(t, m.Subscribe, name, []byte(`"oops"`))
			e, f, logs := frontOn(t, &upstream.SocketIODialer{Options: upstream.Options{URL: url, Mapping: m}})
			ctx := testenv.Context(t, 20*time.Second)
			r := f.dialRaw(t, ctx, "named-"+name)
			r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":1,"channel":"c"}`)
			if a := r.read(ctx); a.Type != legacy.TypeAck || a.ID != 1 {
				t.Fatalf("got %+v, want the subscribe's ack", a)
			}
			for range 2 {
				r.write(ctx, websocket.MessageText, `{"type":"go"}`)
				r.expectAfter(ctx)
			}
			r.ping(ctx, 2)
			if got := e.g.Status().Messages.Rejected; got != 2 {
				t.Errorf("messages.rejected = %d, want 2", got)
			}
			// One log line names the event; the second drop, within
			// seconds, is not logged.
			if got := strings.Count(logs.String(), "event="+name+" "); got != 1 {
				t.Errorf("%d log lines name the event, want 1:\n%s", got, logs.String())
			}
		})
	}
}

// An "error" event that is a legacy error frame (an object with a string
// code) is carried to a legacy client as one, without id, as a legacy
// backend's error frame that answers no request is.
func TestE2EErrorEventThatIsAnErrorFrame(t *testing.T) {
	url := namedEventBackend(t, "subscribe", "error", []byte(`{"code":"rate_limited","message":"slow down"}`))
	e, f, _ := frontOn(t, &upstream.SocketIODialer{Options: upstream.Options{URL: url}})
	ctx := testenv.Context(t, 20*time.Second)
	r := f.dialRaw(t, ctx, "error-frame")
	r.write(ctx, websocket.MessageText, `{"type":"go"}`)
	if got := r.read(ctx); got.Type != legacy.TypeError || got.ID != 0 || got.Code != "rate_limited" || got.Message != "slow down" {
		t.Fatalf("got %+v, want the error frame rate_limited", got)
	}
	r.expectAfter(ctx)
	if got := e.g.Status().Messages.Rejected; got != 0 {
		t.Errorf("messages.rejected = %d, want 0", got)
	}
}

// renamedLegacyBackend is a legacy backend whose message type is "msg": it
// welcomes, acks every request by id at seq 0 and, on "go", sends frames
// and then {"type":"after","n":1}.
func renamedLegacyBackend(t *testing.T, frames ...string) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		if ws.Write(ctx, websocket.MessageText, []byte(`{"type":"welcome","session":"s"}`)) != nil {
			return
		}
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			f, err := legacy.Decode(b)
			switch {
			case err != nil:
				t.Errorf("backend: %s: %v", b, err)
				return
			case f.Type == "go":
				for _, fr := range append(frames, `{"type":"after","n":1}`) {
					if ws.Write(ctx, websocket.MessageText, []byte(fr)) != nil {
						return
					}
				}
			case f.ID > 0:
				if ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"ack","id":%d,"seq":0}`, f.ID)) != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// A legacy backend whose message type is renamed ("msg") sends frames of
// type "message" as custom frames of its own; passed on to a legacy
// client unchanged, one without seq broke the client (legacy: missing
// field "seq"), and one with a seq reached it as a channel message that
// the session's seq rule never saw. Neither is carried.
func TestE2ELegacyFrameTypeNamedEventFromRenamedLegacyBackend(t *testing.T) {
	url := renamedLegacyBackend(t,
		`{"type":"message","channel":"c","data":"x"}`,
		`{"type":"message","channel":"c","seq":7,"data":"x"}`)
	e, f, _ := frontOn(t, &upstream.LegacyDialer{Options: upstream.Options{URL: url, Mapping: upstream.Mapping{Message: "msg"}}})
	ctx := testenv.Context(t, 20*time.Second)
	r := f.dialRaw(t, ctx, "renamed")
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":1,"channel":"c"}`)
	if a := r.read(ctx); a.Type != legacy.TypeAck || a.ID != 1 {
		t.Fatalf("got %+v, want the subscribe's ack", a)
	}
	r.write(ctx, websocket.MessageText, `{"type":"go"}`)
	r.expectAfter(ctx)
	r.ping(ctx, 2)
	if got := e.g.Status().Messages.Rejected; got != 2 {
		t.Errorf("messages.rejected = %d, want 2", got)
	}
}

// A legacy backend's error frame that answers no request reaches a legacy
// client as it is: the reference service's refusal of a custom frame
// without id (unknown_type), as the client would get it from the service
// directly.
func TestE2ELegacyBackendErrorWithoutID(t *testing.T) {
	e := setup(t, 0) // blue: the legacy reference service
	f := startFront(t, e, edge.Options{})
	ctx := testenv.Context(t, 20*time.Second)
	r := f.dialRaw(t, ctx, "no-id")
	r.write(ctx, websocket.MessageText, `{"type":"shout","text":"hi"}`)
	r.expectError(ctx, 0, legacy.CodeUnknownType)
	if got := e.g.Status().Messages.Rejected; got != 0 {
		t.Errorf("messages.rejected = %d, want 0", got)
	}
}
