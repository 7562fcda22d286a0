package sioclient

import (
	"context"
	"errors"
	"testing"

	"github.com/coder/websocket"
)

// A server's binary packet whose placeholder stands for no attachment ends
// the client with ErrProtocol, as the official client ends its connection
// ("parse error"): the gateway counts it against that backend, and no
// client of the gateway gets the event.
func TestBadPlaceholderFromTheServer(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, fakeOpen, `451-["x",{"_placeholder":true,"num":1}]`)
		_ = c.Write(ctx, websocket.MessageBinary, []byte{1})
		drain(ctx, c)
	})
	c := dialFake(t, url)
	waitDone(t, c.Done())
	if !errors.Is(c.Err(), ErrProtocol) {
		t.Fatalf("err = %v", c.Err())
	}
}
