package admin

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// smallBuffers makes every accepted connection's send buffer small, so
// that a client that stops reading blocks the server's writes quickly.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestEventStreamDisconnectsStuckClient: a client that stops reading is
// cut after the write timeout; the controller is never held up.
func TestEventStreamDisconnectsStuckClient(t *testing.T) {
	ro := newFakeRollout()
	api, err := New(Options{Gateway: &fakeGateway{}, Token: testToken, Rollout: ro, Health: fakeHealth{},
		Stream: StreamOptions{MetricsInterval: time.Millisecond, WriteTimeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(api)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	defer srv.Close()

	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(context.Background(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", testToken)
	// Never read. The stream must end on its own, counted as a disconnect.
	testenv.Eventually(t, "the stuck client to be cut", 5*time.Second, func() bool {
		return api.streams.slow.Load() == 1 && api.streams.open() == 0 && ro.subscribers() == 0
	})
	// Commands are not held up meanwhile.
	if _, err := ro.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}
