package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// rawLegacy is a bare WebSocket to the edge's /ws, for sending what the
// Go client never would.
type rawLegacy struct {
	t  *testing.T
	ws *websocket.Conn
}

func (f *front) dialRaw(t *testing.T, ctx context.Context, user string) *rawLegacy {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws://"+f.edgeAddr+"/ws?user="+user, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	r := &rawLegacy{t: t, ws: ws}
	if w := r.read(ctx); w.Type != legacy.TypeWelcome || w.Session == "" {
		t.Fatalf("first frame %+v", w)
	}
	return r
}

func (r *rawLegacy) write(ctx context.Context, typ websocket.MessageType, b string) {
	r.t.Helper()
	if err := r.ws.Write(ctx, typ, []byte(b)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawLegacy) read(ctx context.Context) legacy.Frame {
	r.t.Helper()
	_, b, err := r.ws.Read(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	f, err := legacy.Decode(b)
	if err != nil {
		r.t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

// expectError reads the next frame and wants an error with code and id.
func (r *rawLegacy) expectError(ctx context.Context, id uint64, code string) {
	r.t.Helper()
	f := r.read(ctx)
	if f.Type != legacy.TypeError || f.Code != code || f.ID != id || f.Message == "" {
		r.t.Fatalf("got %+v, want error %s for id %d", f, code, id)
	}
}

func (r *rawLegacy) ping(ctx context.Context, id uint64) {
	r.t.Helper()
	r.write(ctx, websocket.MessageText, fmt.Sprintf(`{"type":"ping","id":%d}`, id))
	if f := r.read(ctx); f.Type != legacy.TypePong || f.ID != id {
		r.t.Fatalf("got %+v, want pong %d", f, id)
	}
}

// TestE2ELegacyBadInput: every bad frame gets a clear error frame and the
// connection, and everyone else's, stays usable.
func TestE2ELegacyBadInput(t *testing.T) {
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{Edge: config.Edge{MaxMessageBytes: 4096}})
	ctx := testenv.Context(t, 60*time.Second)
	bystander := f.dialLegacy(t, ctx, "bystander")
	if err := bystander.subscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	r := f.dialRaw(t, ctx, "mallory")

	r.write(ctx, websocket.MessageText, `{"type":`)
	r.expectError(ctx, 0, legacy.CodeBadRequest)
	r.write(ctx, websocket.MessageText, `[1,2,3]`)
	r.expectError(ctx, 0, legacy.CodeBadRequest)
	r.write(ctx, websocket.MessageBinary, `{"type":"ping","id":1}`)
	r.expectError(ctx, 0, legacy.CodeBadRequest)
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":2}`)
	r.expectError(ctx, 2, legacy.CodeBadRequest)
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":3,"channel":""}`)
	r.expectError(ctx, 3, legacy.CodeInvalidChannel)
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":4,"channel":"`+strings.Repeat("x", 300)+`"}`)
	r.expectError(ctx, 4, legacy.CodeInvalidChannel)
	r.write(ctx, websocket.MessageText, `{"type":"ack","id":5}`)
	r.expectError(ctx, 5, legacy.CodeBadRequest)
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":6,"channel":"a","since":-1}`)
	r.expectError(ctx, 6, legacy.CodeBadRequest)
	// A custom type goes to the backend as an event; the legacy reference
	// service refuses it, and the refusal comes back with the client's id.
	r.write(ctx, websocket.MessageText, `{"type":"shout","id":7,"text":"hi"}`)
	r.expectError(ctx, 7, legacy.CodeUnknownType)
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":8,"channel":"news"}`)
	if a := r.read(ctx); a.Type != legacy.TypeAck || a.ID != 8 || !a.HasSeq {
		t.Fatalf("subscribe answer %+v", a)
	}
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":9,"channel":"news"}`)
	r.expectError(ctx, 9, legacy.CodeAlreadySubscribed)
	r.ping(ctx, 10)

	// Too many subscriptions (the default limit, 100).
	for i := range config.DefaultMaxSubscriptions - 1 {
		r.write(ctx, websocket.MessageText, fmt.Sprintf(`{"type":"subscribe","id":%d,"channel":"c%d"}`, 100+i, i))
		if a := r.read(ctx); a.Type != legacy.TypeAck {
			t.Fatalf("subscribe %d: %+v", i, a)
		}
	}
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":99,"channel":"one-too-many"}`)
	r.expectError(ctx, 99, legacy.CodeTooManySubscriptions)
	r.ping(ctx, 11)

	// Oversized: the connection is closed with 1009; the bystander is not.
	r.write(ctx, websocket.MessageText, `{"type":"publish","id":12,"channel":"news","data":"`+strings.Repeat("x", 5000)+`"}`)
	_, _, err := r.ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Fatalf("after an oversized frame: %v (status %d), want close 1009", err, got)
	}
	seq, err := bystander.publish(ctx, "news", []byte(`"still here"`))
	if err != nil {
		t.Fatal(err)
	}
	if !testenv.Poll(10*time.Second, func() bool { return len(bystander.rec.get("news")) == 1 }) || bystander.rec.get("news")[0] != seq {
		t.Fatalf("bystander got %v, want [%d]", bystander.rec.get("news"), seq)
	}
	if !testenv.Poll(10*time.Second, func() bool { return f.edge.Stats().TooLarge == 1 }) {
		t.Errorf("stats %+v", f.edge.Stats())
	}
	if !testenv.Poll(10*time.Second, func() bool { st := e.g.Status(); return st.Sessions.Blue == 1 }) {
		t.Errorf("closed client's session still held: %+v", e.g.Status().Sessions)
	}
}

// TestE2ESocketIOBadInput: bad requests get error acks like the reference
// service's, and the socket stays connected.
func TestE2ESocketIOBadInput(t *testing.T) {
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{})
	ctx := testenv.Context(t, 60*time.Second)
	c := f.dialSIO(t, ctx, "mallory")
	for _, tc := range []struct {
		event, arg, code string
	}{
		{"subscribe", `"news"`, legacy.CodeBadRequest},
		{"subscribe", `{}`, legacy.CodeInvalidChannel},
		{"subscribe", `{"channel":""}`, legacy.CodeInvalidChannel},
		{"subscribe", `{"channel":"a","since":"x"}`, legacy.CodeBadSince},
		{"unsubscribe", `{"channel":"never"}`, "not_subscribed"},
		{"publish", `{"channel":""}`, legacy.CodeInvalidChannel},
	} {
		reply, err := c.sock.EmitWithAck(ctx, tc.event, []byte(tc.arg))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.event, tc.arg, err)
		}
		var ack struct{ Error string }
		if len(reply.Args) != 1 || json.Unmarshal(reply.Args[0], &ack) != nil || !strings.HasPrefix(ack.Error, tc.code+": ") {
			t.Errorf("%s %s: ack %q, want error %s", tc.event, tc.arg, reply.Args, tc.code)
		}
	}
	if err := c.subscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.publish(ctx, "news", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if !testenv.Poll(10*time.Second, func() bool { return len(c.rec.get("news")) == 1 }) {
		t.Fatal("no message after the bad requests")
	}
}

// TestE2EAdminBadRequests: missing or wrong token is 401, bad bodies are
// 400 with a JSON error, and none of them changes the weight or moves
// anyone.
func TestE2EAdminBadRequests(t *testing.T) {
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{})
	ctx := testenv.Context(t, 60*time.Second)
	c := f.dialLegacy(t, ctx, "alice")
	if err := c.subscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}

	for _, tok := range []string{"", "wrong", adminToken + "x"} {
		for _, req := range [][3]string{{"GET", "/api/v1/status", ""}, {"PUT", "/api/v1/weight", `{"weight":100}`}} {
			code, body := f.adminDo(t, req[0], req[1], tok, req[2])
			if code != 401 || !isJSONError(body) {
				t.Errorf("token %q %s %s: %d %s", tok, req[0], req[1], code, body)
			}
		}
	}
	for _, body := range []string{
		`{"weight":101}`, `{"weight":-1}`, `{"weight":12.345}`, `{"weight":"50"}`,
		`{"weight":50`, `not json`, ``, `{}`, `{"weight":50,"extra":1}`, `{"weight":50}{"weight":60}`,
		`{"weight":50}}`, `{"weight":50}]`, `{"weight":50} x`,
		`{"weight":50,"pad":"` + strings.Repeat("x", 100<<10) + `"}`,
	} {
		code, b := f.adminDo(t, "PUT", "/api/v1/weight", adminToken, body)
		if code != 400 || !isJSONError(b) {
			t.Errorf("PUT %.40q: %d %s, want 400 with an error", body, code, b)
		}
	}
	var st admin.Status
	f.adminJSON(t, "GET", "/api/v1/status", "", 200, &st)
	if st.Weight != 0 || st.Sessions.Blue != 1 || st.Moves.Done != 0 {
		t.Errorf("bad requests changed something: %+v", st)
	}
	if code, b := f.adminDo(t, "GET", "/api/v1/sessions/nope", adminToken, ""); code != 404 || !isJSONError(b) {
		t.Errorf("unknown session: %d %s", code, b)
	}
	var info admin.SessionInfo
	f.adminJSON(t, "GET", "/api/v1/sessions/"+c.legacy.Session(), "", 200, &info)
	if info.Backend != "blue" || info.User != "alice" || len(info.Subscriptions) != 1 || info.Subscriptions[0].Channel != "news" {
		t.Errorf("session info %+v", info)
	}
	if isDone(c.done()) {
		t.Error("client disconnected")
	}
}

func isJSONError(b []byte) bool {
	var v struct{ Error string }
	return json.Unmarshal(b, &v) == nil && v.Error != ""
}

// TestE2ESlowConsumer: a legacy client that stops reading is closed with
// 1008 slow_consumer; a client on the same channel keeps everything.
func TestE2ESlowConsumer(t *testing.T) {
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{Edge: config.Edge{OutboundQueue: config.Queue{Messages: 64, Bytes: 4 << 20}}})
	ctx := testenv.Context(t, 60*time.Second)
	good := f.dialLegacy(t, ctx, "good")
	if err := good.subscribe(ctx, "firehose"); err != nil {
		t.Fatal(err)
	}
	slow := f.dialRaw(t, ctx, "slow")
	slow.write(ctx, websocket.MessageText, `{"type":"subscribe","id":1,"channel":"firehose"}`)
	if a := slow.read(ctx); a.Type != legacy.TypeAck {
		t.Fatalf("%+v", a)
	}
	// The slow client reads nothing more: once the TCP buffers are full,
	// its queue of 64 overflows. Publishing is paced so that the backends'
	// own queues towards the gateway never overflow.
	big := []byte(`"` + strings.Repeat("x", 16<<10) + `"`)
	var n int
	for n < 5000 && f.edge.Stats().SlowConsumers == 0 {
		if _, err := e.b.Publish(ctx, "firehose", big); err != nil {
			t.Fatal(err)
		}
		n++
		time.Sleep(time.Millisecond)
	}
	if f.edge.Stats().SlowConsumers != 1 {
		t.Fatalf("no slow consumer after %d messages: %+v", n, f.edge.Stats())
	}
	if !testenv.Poll(30*time.Second, func() bool { return len(good.rec.get("firehose")) == n }) {
		t.Fatalf("good client got %d of %d", len(good.rec.get("firehose")), n)
	}
	var err error
	for err == nil { // drain what was written before the close
		_, _, err = slow.ws.Read(ctx)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != legacy.ReasonSlowConsumer {
		t.Errorf("slow client ended with %v, want 1008 slow_consumer", err)
	}
	if isDone(good.done()) {
		t.Error("the good client was disconnected")
	}
}
