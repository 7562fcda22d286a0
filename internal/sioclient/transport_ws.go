package sioclient

import (
	"context"
	"fmt"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// wsTransport carries one Engine.IO packet per websocket message: text
// packets as text frames, binary messages as raw binary frames.
type wsTransport struct {
	c *websocket.Conn
}

func (t *wsTransport) send(ctx context.Context, ps []engineio.Packet) error {
	var buf []byte
	for _, p := range ps {
		if p.Binary {
			if err := t.c.Write(ctx, websocket.MessageBinary, p.Data); err != nil {
				return err
			}
			continue
		}
		buf = engineio.AppendText(buf[:0], p)
		if err := t.c.Write(ctx, websocket.MessageText, buf); err != nil {
			return err
		}
	}
	return nil
}

func (t *wsTransport) shutdown(context.Context) {
	// Close runs the close handshake, bounded by coder/websocket itself
	// (5s). The server reports "transport close" to its handlers.
	_ = t.c.Close(websocket.StatusNormalClosure, "")
}

func (t *wsTransport) abort() { _ = t.c.CloseNow() }

// dialWebSocket opens a websocket to the endpoint, for a new session (sid
// empty) or to upgrade an existing one.
func (e *engine) dialWebSocket(ctx context.Context, sid string) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, e.requestURL("websocket", sid), &websocket.DialOptions{
		HTTPClient: e.opts.HTTPClient,
		HTTPHeader: e.opts.Header,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: websocket dial: %w", ErrTransportClosed, err)
	}
	c.SetReadLimit(e.opts.MaxMessageSize)
	return c, nil
}

// readMessage reads one websocket message as an Engine.IO packet.
func readMessage(ctx context.Context, c *websocket.Conn) (engineio.Packet, error) {
	typ, b, err := c.Read(ctx)
	if err != nil {
		return engineio.Packet{}, err
	}
	if typ == websocket.MessageBinary {
		return engineio.DecodeBinary(b), nil
	}
	p, err := engineio.DecodeText(b)
	if err != nil {
		return engineio.Packet{}, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return p, nil
}

// openWebSocket starts a session directly on a websocket: the first message
// is the server's Open packet.
func (e *engine) openWebSocket(ctx context.Context) error {
	c, err := e.dialWebSocket(ctx, "")
	if err != nil {
		return err
	}
	p, err := readMessage(ctx, c)
	if err == nil {
		err = e.handshake(p)
	}
	if err != nil {
		_ = c.CloseNow()
		return fmt.Errorf("sioclient: handshake: %w", err)
	}
	e.setTransport(&wsTransport{c: c})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.readWebSocket(c)
	}()
	return nil
}

// readWebSocket is the read loop of a websocket session. It reads with a
// context that is never canceled: the engine ends a read by closing the
// connection, which saves a context and an AfterFunc per message.
func (e *engine) readWebSocket(c *websocket.Conn) {
	for {
		p, err := readMessage(context.Background(), c)
		if err != nil {
			e.readErr(err)
			return
		}
		e.receive(p)
	}
}
