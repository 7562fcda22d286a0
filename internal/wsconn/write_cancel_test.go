package wsconn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// stalledPeer accepts a WebSocket and never reads from it, like a backend
// that stopped reading (its TCP window fills up).
func stalledPeer(t *testing.T) (*httptest.Server, chan struct{}) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		<-release
		_ = ws.CloseNow()
	}))
	return srv, release
}

// A write blocked on a peer that stopped reading returns when its context
// is canceled, and a second writer waiting behind it returns at its own
// deadline: neither waits for ClientOptions.WriteTimeout (20 s here). The
// bounds are loose: under the race detector masking the 32 MiB frame
// alone takes seconds.
func TestWriteEndsWithItsContext(t *testing.T) {
	srv, release := stalledPeer(t)
	defer srv.Close()
	defer close(release)
	c, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), ClientOptions{WriteTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()

	big := make([]byte, 32<<20) // far more than the socket buffers take
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		_ = c.Write(ctx, websocket.MessageBinary, big)
		first <- time.Since(start)
	}()
	time.Sleep(200 * time.Millisecond) // the write is now blocked

	// A second write with its own short deadline waits behind it.
	second := make(chan time.Duration, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer scancel()
		start := time.Now()
		_ = c.Write(sctx, websocket.MessageText, []byte(`{"type":"ping","id":1}`))
		second <- time.Since(start)
	}()

	cancel() // the caller gives up (client gone, shutdown)
	const bound = 10 * time.Second
	select {
	case d := <-first:
		t.Logf("first write returned %v after start", d)
	case <-time.After(bound):
		d1 := <-first
		d2 := <-second
		t.Fatalf("Write did not return within %v of its context's cancel (returned after %v); a second Write with a 100ms deadline took %v", bound, d1, d2)
	}
	if d := <-second; d > bound {
		t.Fatalf("second Write with a 100ms deadline took %v", d)
	}
}
