package eio

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A poll whose client stops reading the response must not hold its
// handler goroutine (and the payload) forever: writes are bounded by
// WriteTimeout, as on WebSocket, and the session is closed instead of
// losing the packets the poll took.
func TestPollWriteToAClientThatDoesNotReadIsBounded(t *testing.T) {
	h := &echo{closed: make(chan error, 64)}
	srv, err := NewServer(Config{
		PingInterval: time.Minute, PingTimeout: time.Minute,
		QueueBytes: 64 << 20, WriteTimeout: 200 * time.Millisecond,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	var inflight atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		srv.ServeHTTP(w, r)
	}))
	ts := &testServer{srv: srv, url: hs.URL + "/engine.io/", h: h, http: hs}
	sid := ts.openPolling(t)
	c := srv.lookup(sid)
	chunk := []byte(strings.Repeat("x", 512<<10))
	for range 32 { // 16 MiB queued
		if err := c.SendText(chunk); err != nil {
			t.Fatal(err)
		}
	}

	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	raw, err := d.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = raw.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	}()
	fmt.Fprintf(raw, "GET /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", sid)
	// The client never reads.
	for start := time.Now(); inflight.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("poll never reached the server")
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if inflight.Load() == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("poll handler still blocked writing to a client that does not read, %v after the request (WriteTimeout 200ms); session err: %v",
		3*time.Second, c.Err())
}
