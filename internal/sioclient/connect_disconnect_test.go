package sioclient

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A server DISCONNECT for a namespace
// that is still waiting for its CONNECT answer ends the socket, and Connect
// returns at once rather than at its ctx.
func TestDisconnectWhileConnecting(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, fakeOpen)
		if _, b, err := c.Read(ctx); err != nil || string(b) != "40" {
			return
		}
		write(ctx, c, `41`)
		drain(ctx, c)
	})
	c := dialFake(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Connect(ctx, "/", nil)
	if err == nil {
		t.Fatal("connect succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Connect returned after %v (err %v): it waited for its ctx although the server had disconnected the namespace", d.Round(time.Millisecond), err)
	}
}
