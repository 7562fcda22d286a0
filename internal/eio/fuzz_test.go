package eio

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// FuzzPollingPayload posts arbitrary payloads to a polling session through
// the full request path. Whatever the body, the server answers and never
// panics: 413 past MaxPayload, else 200; the Handler gets exactly the
// messages the payload holds before its first bad packet, close or ping,
// in order and byte for byte; and the session closes exactly when the
// payload has such a packet.
func FuzzPollingPayload(f *testing.F) {
	for _, seed := range []string{
		"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "abc", "1", "2", "3", "5", "6",
		"2probe", "b!!!", "\x1e", "4\x1e\x1e4", "", "0{}", strings.Repeat("4x\x1e", 100),
		"4a\x1e1\x1e4b", "4a\x1e2\x1e4b", "4a\x1ez\x1e4b", "3\x1e6\x1e5\x1e0\x1e4a",
	} {
		f.Add([]byte(seed))
	}
	const maxPayload = 1 << 12
	f.Fuzz(func(t *testing.T, body []byte) {
		h := &recorder{closed: make(chan error, 4)}
		srv, err := NewServer(Config{MaxPayload: maxPayload, PingInterval: time.Minute}, h)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil))
		var hs struct{ SID string }
		if err := json.Unmarshal(rec.Body.Bytes()[1:], &hs); err != nil {
			t.Fatalf("handshake %q", rec.Body.String())
		}
		rec = httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/engine.io/?EIO=4&transport=polling&sid="+hs.SID, strings.NewReader(string(body)))
		srv.ServeHTTP(rec, req)

		if len(body) > maxPayload {
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("POST of %d bytes: status %d", len(body), rec.Code)
			}
			return
		}
		if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
			t.Fatalf("POST %q: %d %q", body, rec.Code, rec.Body)
		}
		// What the payload holds, as the server should read it.
		var want []engineio.Packet
		ends := false
		for p, err := range engineio.Packets(body) {
			if err != nil || p.Type == engineio.Close || p.Type == engineio.Ping {
				ends = true
				break
			}
			if p.Type == engineio.Message {
				want = append(want, engineio.Packet{Type: engineio.Message, Binary: p.Binary, Data: bytes.Clone(p.Data)})
			}
		}
		h.mu.Lock()
		got := h.msgs
		h.mu.Unlock()
		if len(got) != len(want) {
			t.Fatalf("POST %q: handler got %d messages, want %d", body, len(got), len(want))
		}
		for i := range got {
			if got[i].Binary != want[i].Binary || !bytes.Equal(got[i].Data, want[i].Data) {
				t.Fatalf("POST %q: message %d is %+v, want %+v", body, i, got[i], want[i])
			}
		}
		if ends {
			select {
			case <-h.closed:
			case <-time.After(5 * time.Second):
				t.Fatalf("POST %q: session not closed", body)
			}
		} else if c := srv.lookup(hs.SID); c == nil || c.ctx.Err() != nil {
			t.Fatalf("POST %q: session closed", body)
		}
	})
}

// recorder is a Handler that keeps the messages it gets.
type recorder struct {
	mu     sync.Mutex
	msgs   []engineio.Packet
	closed chan error
}

func (r *recorder) OnOpen(*Conn) {}

func (r *recorder) OnMessage(_ *Conn, data []byte, binary bool) {
	r.mu.Lock()
	r.msgs = append(r.msgs, engineio.Packet{Type: engineio.Message, Binary: binary, Data: bytes.Clone(data)})
	r.mu.Unlock()
}

func (r *recorder) OnClose(_ *Conn, err error) { r.closed <- err }
