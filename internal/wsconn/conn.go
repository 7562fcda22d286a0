package wsconn

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// Conn is what a client reads and writes messages through: a *Client, or
// a *websocket.Conn where the handshake must go through an http.Client.
type Conn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

// Parker is a Conn whose reader can wait for the next frame on a short
// stack (see Client.Wait).
type Parker interface {
	Buffered() bool
	Wait()
}

// Pinger is a Conn that sends a WebSocket ping without waiting for the
// pong, and counts the pongs its reader reads (see Client.SendPing). A
// *websocket.Conn is not one: its Ping waits for the pong.
type Pinger interface {
	SendPing(ctx context.Context) error
	Pongs() uint32
}

// Borrower is a Conn that can lend a message from its read buffer instead
// of copying it out (see Client.Borrow).
type Borrower interface {
	Borrow(ctx context.Context) (websocket.MessageType, []byte, error)
}

// ReadLent reads c's next message in place when c can lend it (Borrower),
// valid only until c's next read; otherwise it is Read.
func ReadLent(ctx context.Context, c Conn) (websocket.MessageType, []byte, error) {
	if b, ok := c.(Borrower); ok {
		return b.Borrow(ctx)
	}
	return c.Read(ctx)
}

var (
	_ Conn     = (*websocket.Conn)(nil)
	_ Conn     = (*Client)(nil)
	_ Parker   = (*Client)(nil)
	_ Pinger   = (*Client)(nil)
	_ Borrower = (*Client)(nil)
)

// DialVia opens a Conn to rawURL. With a nil httpClient it is a *Client,
// the cheaper one to hold; otherwise it is a *websocket.Conn whose
// handshake goes through httpClient (a proxy, a custom transport), with
// o's Header and ReadLimit applied to it.
func DialVia(ctx context.Context, rawURL string, httpClient *http.Client, o ClientOptions) (Conn, error) {
	if httpClient == nil {
		c, err := Dial(ctx, rawURL, o)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, _, err := websocket.Dial(ctx, rawURL, &websocket.DialOptions{HTTPClient: httpClient, HTTPHeader: o.Header})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(o.ReadLimit)
	return c, nil
}
