package service

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// TestLegacyBadInput sends every kind of bad frame on one connection: each
// gets its error frame, and the connection stays up.
func TestLegacyBadInput(t *testing.T) {
	env := startLegacy(t, envOptions{
		limits: Limits{MaxSubscriptions: 2},
		broker: membroker.Options{HistorySize: 5},
	})
	ctx := testenv.Context(t, 30*time.Second)
	for range 20 {
		if _, err := env.b.Publish(ctx, "old", []byte(`0`)); err != nil {
			t.Fatal(err)
		}
	}
	r := env.dialRaw(t, nil)
	cases := []struct {
		frame string
		code  string
		id    uint64
		in    string // the error message must contain this
	}{
		{`not json`, legacy.CodeBadRequest, 0, "malformed"},
		{`{"type":"subscribe","id":7}`, legacy.CodeBadRequest, 7, `"channel"`},
		{`{"type":"publish","id":8,"channel":"c"}`, legacy.CodeBadRequest, 8, `"data"`},
		{`{"type":"ping"}`, legacy.CodeBadRequest, 0, `"id"`},
		{`{"id":9}`, legacy.CodeBadRequest, 9, `"type"`},
		{`{"type":"subscribe","id":10,"channel":"c","since":-1}`, legacy.CodeBadRequest, 10, `"since"`},
		{`{"type":"subscribe","id":11,"channel":"c","since":"5"}`, legacy.CodeBadRequest, 11, `"since"`},
		{`{"type":"dance","id":12}`, legacy.CodeUnknownType, 12, "dance"},
		{`{"type":"message","channel":"c","seq":1,"data":1}`, legacy.CodeBadRequest, 0, "servers only"},
		{`{"type":"subscribe","id":13,"channel":""}`, legacy.CodeInvalidChannel, 13, "channel"},
		{`{"type":"subscribe","id":14,"channel":"` + strings.Repeat("x", 300) + `"}`, legacy.CodeInvalidChannel, 14, "channel"},
		{`{"type":"publish","id":15,"channel":"","data":1}`, legacy.CodeInvalidChannel, 15, "channel"},
		{`{"type":"unsubscribe","id":19,"channel":""}`, legacy.CodeInvalidChannel, 19, "channel"},
		{`{"type":"subscribe","id":16,"channel":"old","since":3}`, legacy.CodeHistoryGone, 16, "oldest is 16"},
		{`{"type":"subscribe","id":17,"channel":"old","since":21}`, legacy.CodeBadSince, 17, "since"},
		{`{"type":"publish","id":18,"channel":"c","data":` + strings.Repeat("[", MaxDataDepth+1) + strings.Repeat("]", MaxDataDepth+1) + `}`, legacy.CodeBadRequest, 18, "deeper"},
	}
	for _, c := range cases {
		r.send(c.frame)
		f := r.expectError(c.code, c.id)
		if !strings.Contains(f.Message, c.in) {
			t.Errorf("%s: message %q does not mention %q", c.frame, f.Message, c.in)
		}
	}

	// Binary frames are refused.
	if err := r.ws.Write(ctx, websocket.MessageBinary, []byte(`{"type":"ping","id":1}`)); err != nil {
		t.Fatal(err)
	}
	r.expectError(legacy.CodeBadRequest, 0)

	// Subscription limits.
	r.send(`{"type":"subscribe","id":20,"channel":"a"}`)
	if f := r.read(); f.Type != legacy.TypeAck || f.ID != 20 || !f.HasSeq {
		t.Fatalf("got %+v, want ack 20 with seq", f)
	}
	r.send(`{"type":"subscribe","id":21,"channel":"a"}`)
	r.expectError(legacy.CodeAlreadySubscribed, 21)
	r.send(`{"type":"subscribe","id":22,"channel":"old","since":15}`)
	for want := uint64(16); want <= 20; want++ {
		if f := r.read(); want == 16 && (f.Type != legacy.TypeAck || f.ID != 22 || f.Seq != 20) {
			t.Fatalf("got %+v, want ack 22 at seq 20 before the replay", f)
		} else if want == 16 {
			f = r.read()
			if f.Type != legacy.TypeMessage || f.Seq != want {
				t.Fatalf("got %+v, want message seq %d", f, want)
			}
		} else if f.Type != legacy.TypeMessage || f.Seq != want {
			t.Fatalf("got %+v, want message seq %d", f, want)
		}
	}
	r.send(`{"type":"subscribe","id":23,"channel":"b"}`)
	r.expectError(legacy.CodeTooManySubscriptions, 23)

	// Still alive.
	r.send(`{"type":"ping","id":99}`)
	if f := r.read(); f.Type != legacy.TypePong || f.ID != 99 {
		t.Fatalf("got %+v, want pong 99", f)
	}
	if got, want := env.l.Stats().ErrorFrames, uint64(len(cases)+3); got != want {
		t.Fatalf("error frames counted %d, want %d", got, want)
	}
}

func TestLegacyOversizedFrameCloses1009(t *testing.T) {
	env := startLegacy(t, envOptions{limits: Limits{MaxMessageBytes: 1024}})
	ctx := testenv.Context(t, 30*time.Second)
	r := env.dialRaw(t, nil)
	big := `{"type":"publish","id":1,"channel":"c","data":"` + strings.Repeat("x", 2000) + `"}`
	if err := r.ws.Write(ctx, websocket.MessageText, []byte(big)); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.ws.Read(ctx)
	if code := websocket.CloseStatus(err); code != CloseTooLarge {
		t.Fatalf("read after oversized frame: %v, want close %d", err, CloseTooLarge)
	}
	testenv.Eventually(t, "TooLarge counted", 10*time.Second, func() bool { return env.l.Stats().TooLarge == 1 })
	// A frame just under the limit is fine on another connection.
	r2 := env.dialRaw(t, nil)
	ok := `{"type":"publish","id":1,"channel":"c","data":"` + strings.Repeat("x", 900) + `"}`
	r2.send(ok)
	if f := r2.read(); f.Type != legacy.TypeAck || f.Seq != 1 {
		t.Fatalf("got %+v, want publish ack seq 1", f)
	}
}
