package eio

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzPollingPayload posts arbitrary payloads to a polling session through
// the full request path: whatever the body, the server must answer and
// never panic, and the session must be left either open or closed.
func FuzzPollingPayload(f *testing.F) {
	for _, seed := range []string{
		"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "abc", "1", "2", "3", "5", "6",
		"2probe", "b!!!", "\x1e", "4\x1e\x1e4", "", "0{}", strings.Repeat("4x\x1e", 100),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		srv, err := NewServer(Config{MaxPayload: 1 << 12, PingInterval: time.Minute}, &echo{closed: make(chan error, 4)})
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
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("POST %q: status %d", body, rec.Code)
		}
	})
}
