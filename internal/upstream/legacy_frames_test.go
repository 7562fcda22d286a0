package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// wsBackend serves one WebSocket backend at path on a test server and
// returns its ws:// URL; serve runs once per connection, which it ends by
// returning.
func wsBackend(t *testing.T, path string, serve func(ctx context.Context, ws *websocket.Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer func() { _ = ws.CloseNow() }()
		serve(r.Context(), ws)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

// writeAll writes each frame as a text message; false when one fails.
func writeAll(ctx context.Context, ws *websocket.Conn, frames ...string) bool {
	for _, f := range frames {
		if ws.Write(ctx, websocket.MessageText, []byte(f)) != nil {
			return false
		}
	}
	return true
}

// drain reads until the connection ends.
func drain(ctx context.Context, ws *websocket.Conn) {
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return
		}
	}
}

// rawLegacy is a legacy backend that greets, then sends frames, each as
// written, and then reads until the connection ends.
func rawLegacy(t *testing.T, frames ...string) string {
	t.Helper()
	return wsBackend(t, "/ws", func(ctx context.Context, ws *websocket.Conn) {
		if !writeAll(ctx, ws, `{"type":"welcome","session":"s"}`) {
			return
		}
		time.Sleep(100 * time.Millisecond) // the dial has returned
		if writeAll(ctx, ws, frames...) {
			drain(ctx, ws)
		}
	})
}

// A legacy backend's message without seq is delivered with Seq 0
// (unsequenced), as the package documents and as a renamed message type
// is, rather than failing the codec's check and ending the whole
// connection as a protocol violation.
func TestLegacyUnsequencedMessage(t *testing.T) {
	url := rawLegacy(t,
		`{"type":"message","channel":"c","data":1}`,
		`{"type":"message","channel":"c","data":2}`,
	)
	h := newRecorder()
	_ = dialScripted(t, url, h)
	h.waitFor(t, "two messages or the end", func(events []upstream.Event, closed bool) bool {
		return closed || len(messages(events, "c")) == 2
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		t.Fatalf("the connection ended on an unsequenced message: %v (messages delivered: %d)", h.err, len(messages(h.events, "c")))
	}
}

// The same messages under a renamed message type are delivered.
func TestLegacyUnsequencedMessageRenamed(t *testing.T) {
	url := rawLegacy(t,
		`{"type":"msg","channel":"c","data":1}`,
		`{"type":"msg","channel":"c","data":2}`,
	)
	h := newRecorder()
	_ = dialScriptedWith(t, upstream.Options{URL: url, Mapping: upstream.Mapping{Message: "msg"}}, h)
	h.waitFor(t, "two messages or the end", func(events []upstream.Event, closed bool) bool {
		return closed || len(messages(events, "c")) == 2
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		t.Fatalf("ended: %v", h.err)
	}
}

// A legacy subscribe is answered by an ack or an error frame
// (docs/protocols/legacy.md); a frame of a type the gateway does not know
// is an opaque event to pass through, even when it carries an "id" member
// of its own (an entity id, say) equal to a subscribe's in flight. Taken
// for the answer, it made the subscribe "succeed" without a position
// although the backend refused it, the event never reached the client,
// and the real answer went to the client as a stray error event.
func TestLegacyOpaqueFrameWithIDIsNotAnAnswer(t *testing.T) {
	url := scriptedLegacyRaw(t, func(f legacy.Frame) []string {
		if f.Type != legacy.TypeSubscribe {
			return nil
		}
		id := strconv.FormatUint(f.ID, 10)
		return []string{
			`{"type":"notice","id":` + id + `,"text":"hello"}`,
			`{"type":"error","id":` + id + `,"code":"history_gone","message":"gone","channel":"c"}`,
		}
	})
	h := newRecorder()
	c := dialScripted(t, url, h)
	ctx := testenv.Context(t, 10*time.Second)
	_, err := c.Subscribe(ctx, "c", 5, true)
	time.Sleep(200 * time.Millisecond)
	h.mu.Lock()
	var names []string
	for _, ev := range h.events {
		names = append(names, ev.Name)
	}
	h.mu.Unlock()
	if !upstream.IsCode(err, "history_gone") || len(names) != 1 || names[0] != "notice" {
		t.Fatalf("subscribe returned %v (want the history_gone refusal); events passed on: %q (want [notice])", err, names)
	}
}

// scriptedLegacyRaw is scriptedLegacy with answers written as given ("close":
// end the connection).
func scriptedLegacyRaw(t *testing.T, answer func(f legacy.Frame) []string) string {
	t.Helper()
	return wsBackend(t, "/ws", func(ctx context.Context, ws *websocket.Conn) {
		if !writeAll(ctx, ws, `{"type":"welcome","session":"s"}`) {
			return
		}
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			f, err := legacy.Decode(data)
			if err != nil {
				continue
			}
			for _, out := range answer(f) {
				if out == "close" || !writeAll(ctx, ws, out) {
					return
				}
			}
		}
	})
}

// An error frame answering a request the driver gave up on (its timeout
// passed) is dropped, as a late ack is: its id is the driver's, not the
// client's, and a client would take it for the answer to a request of its
// own with that id.
func TestLegacyLateErrorIsNotPassedOn(t *testing.T) {
	url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
		if f.Type != legacy.TypePublish {
			return nil
		}
		time.Sleep(150 * time.Millisecond) // past the request timeout
		return []legacy.Frame{
			{Type: legacy.TypeError, ID: f.ID, Code: "forbidden", Message: "no", Channel: f.Channel},
			{Type: "notice"}, // then something to pass on, to know the error was read
		}
	})
	h := newRecorder()
	c := dialScripted(t, url, h)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Publish(ctx, "c", []byte(`1`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish: %v, want its deadline", err)
	}
	h.waitFor(t, "the notice", func(events []upstream.Event, _ bool) bool {
		return len(events) > 0 && events[len(events)-1].Name == "notice"
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range h.events {
		if ev.Name == legacy.TypeError {
			t.Errorf("a late error frame was passed on: %s", ev.Args[0])
		}
	}
}
