package sio

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wire/socketio"
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
		size := payload.Len()
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", u, &payload))
		switch {
		case size > 1<<12:
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("POST of %d bytes: %d", size, rec.Code)
			}
			return
		case rec.Code != http.StatusOK || rec.Body.String() != "ok":
			t.Fatalf("POST %q: %d %q", packets, rec.Code, rec.Body)
		}
		// The next poll answers at once (the CONNECT answer at least is
		// waiting, or the session has ended), and whatever the server
		// sends is a valid payload of valid Socket.IO packets.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", u, nil).WithContext(ctx))
		if ctx.Err() != nil {
			t.Fatalf("after POST %q: the poll waited", packets)
		}
		if rec.Code != http.StatusOK {
			return // the session has ended
		}
		ps, err := engineio.DecodePayload(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("after POST %q: poll %q: %v", packets, rec.Body, err)
		}
		for _, p := range ps {
			if p.Type != engineio.Message || p.Binary {
				continue
			}
			if _, err := socketio.Decode(p.Data); err != nil {
				t.Fatalf("after POST %q: server sent %q: %v", packets, p.Data, err)
			}
		}
	})
}
