package sio

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/eio"
)

// FuzzPackets feeds arbitrary Socket.IO packets (text, and binary frames
// after a 0x1e-separated "b" marker) to a connected client through the
// polling transport: the server must never panic, whatever it decides.
func FuzzPackets(f *testing.F) {
	for _, seed := range []string{
		`2["message",1,"2",{"3":[true]}]`,
		`2456["message-with-ack",1,"2",{"3":[false]}]`,
		`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` + "\x1ebAQID\x1ebBAUG",
		`52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` + "\x1ebAQID\x1ebBAUG",
		`0/custom,{"token":"abc"}`, `0/random`, `1`, `1/custom,`, `3[]`, `30[1]`, `6-1[]`,
		`abc`, `2{}`, `2abc["x"]`, `2["disconnect"]`, `2[]`, `4{"message":"x"}`, `99999999999999999999[]`,
		`51-["m",{"_placeholder":true,"num":0}]`, "b//8=",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, packets []byte) {
		srv, err := NewServer(Config{Engine: eio.Config{PingInterval: time.Minute, MaxPayload: 1 << 12}})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"/", "/custom"} {
			n := srv.Of(name)
			n.On("message", func(s *Socket, e *Event) { _ = s.EmitBinary("message-back", e.Binary, e.Args...) })
			n.On("message-with-ack", func(_ *Socket, e *Event) { _ = e.AckBinary(e.Binary, e.Args...) })
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}()
		h := srv.Handler()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil))
		body := rec.Body.String()
		i := strings.Index(body, `"sid":"`)
		if i < 0 {
			t.Fatalf("handshake %q", body)
		}
		sid := body[i+7:]
		sid = sid[:strings.IndexByte(sid, '"')]
		u := "/socket.io/?EIO=4&transport=polling&sid=" + sid
		// Every text segment becomes an Engine.IO message packet.
		var payload bytes.Buffer
		payload.WriteString("40")
		for seg := range bytes.SplitSeq(packets, []byte{0x1e}) {
			payload.WriteByte(0x1e)
			if !bytes.HasPrefix(seg, []byte("b")) {
				payload.WriteByte('4')
			}
			payload.Write(seg)
		}
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", u, &payload))
	})
}
