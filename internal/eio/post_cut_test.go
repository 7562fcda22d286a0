package eio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// A POST whose body stalls half-way ends with its session, as in Node,
// which destroys a pending POST when the session closes: the client gets
// an error answer, and neither the handler goroutine nor the connection
// is kept until the body timeout (30 s).
func TestSessionEndCutsAStalledPOST(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		end    func(t *testing.T, ts *testServer, sid string)
		reason error
	}{
		{"server close", Config{PingInterval: time.Minute}, func(t *testing.T, ts *testServer, sid string) {
			ts.srv.lookup(sid).Close()
		}, ErrClosed},
		{"ping timeout", Config{}, func(*testing.T, *testServer, string) {}, ErrPingTimeout},
		{"overlapping POST", Config{PingInterval: time.Minute}, func(t *testing.T, ts *testServer, sid string) {
			if status, _, _ := do(t, "POST", ts.pollURL(sid), "4x"); status != http.StatusBadRequest {
				t.Errorf("overlapping POST: %d", status)
			}
		}, ErrTransport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg)
			sid := ts.openPolling(t)
			c := ts.srv.lookup(sid)
			raw, err := net.Dial("tcp", ts.http.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			fmt.Fprintf(raw, "POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n"+
				"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 100\r\n\r\n4hel", sid)
			testenv.Eventually(t, "the POST to be read", 5*time.Second, func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.posting
			})
			tc.end(t, ts, sid)
			if err := ts.closeReason(t); !errors.Is(err, tc.reason) {
				t.Errorf("close reason %v, want %v", err, tc.reason)
			}
			_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(raw)
			res, err := http.ReadResponse(br, nil)
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				t.Fatal("the stalled POST is still pending 5s after its session ended")
			case err == nil && res.StatusCode == http.StatusOK:
				t.Errorf("the stalled POST of an ended session was answered %s", res.Status)
			}
			// The connection goes too: what is left of the body must not
			// be read as a request.
			if _, err := io.Copy(io.Discard, br); errors.As(err, &ne) && ne.Timeout() {
				t.Error("the stalled POST's connection is still open 5s after its session ended")
			}
		})
	}
}
