package wsconn

import (
	"context"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestClientKeepAlive checks that ClientOptions.KeepAlive reaches the
// socket: on by default, off when negative.
func TestClientKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name      string
		keepAlive time.Duration
		want      int
	}{
		{"default", 0, 1},
		{"off", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := echoServer(t) // one per connection: it reports one error
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Dial(ctx, url, ClientOptions{Header: http.Header{"X-Test": {"yes"}}, KeepAlive: tc.keepAlive})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if c.in.raw == nil {
				t.Fatal("no raw connection to inspect")
			}
			got, serr := -1, error(nil)
			if err := c.in.raw.Control(func(fd uintptr) {
				got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			}); err != nil {
				t.Fatal(err)
			}
			if serr != nil {
				t.Fatal(serr)
			}
			if got != tc.want {
				t.Fatalf("SO_KEEPALIVE = %d, want %d", got, tc.want)
			}
		})
	}
}
