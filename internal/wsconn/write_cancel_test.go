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

// Close, when a write holds the connection past closeGrace (a peer that
// stopped reading), cannot send its close frame; the reader must end all
// the same. It used to return without a read deadline, so once the peer
// read again and the stuck write went through, the reader waited on a
// peer that never closes, for ever, and with it upstream's Close, which
// waits for its reader.
func TestCloseEndsTheReaderWhenAWriteHoldsIt(t *testing.T) {
	resume := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(-1)
		<-resume // stopped reading until then; never writes, never closes
		for {
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-resume:
		default:
			close(resume)
		}
	}()
	c, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), ClientOptions{WriteTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()

	readDone := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				readDone <- err
				return
			}
		}
	}()
	wrote := make(chan error, 1)
	go func() { wrote <- c.Write(context.Background(), websocket.MessageBinary, make([]byte, 32<<20)) }()
	for len(c.wsem) == 0 { // the write holds the connection, and will block on the peer
		time.Sleep(time.Millisecond)
	}

	err = c.Close(websocket.StatusNormalClosure, "")
	t.Logf("Close: %v", err)
	close(resume) // the peer reads again: the write may go through now
	t.Logf("write: %v", <-wrote)
	const bound = closeGrace + 5*time.Second
	select {
	case err := <-readDone:
		t.Logf("reader ended: %v", err)
	case <-time.After(bound):
		t.Fatalf("reader still reading %v after Close returned (%v): no read deadline was set", bound, err)
	}
}
