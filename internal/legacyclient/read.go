package legacyclient

import (
	"context"
	"fmt"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/wire/legacy"
)

// readFrame reads and decodes one frame. Each frame comes in its own
// buffer, so the Frame's Data may be handed on.
func readFrame(ctx context.Context, ws *websocket.Conn) (legacy.Frame, error) {
	typ, data, err := ws.Read(ctx)
	if err != nil {
		return legacy.Frame{}, err
	}
	if typ != websocket.MessageText {
		return legacy.Frame{}, fmt.Errorf("%w: binary frame", ErrProtocol)
	}
	f, err := legacy.Decode(data)
	if err != nil {
		return legacy.Frame{}, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return f, nil
}

// readLoop is the connection's only reader. It routes answers to waiting
// requests, messages to Messages and the rest to Events, until the
// connection ends.
func (c *Client) readLoop() {
	var err error
	for {
		var f legacy.Frame
		if f, err = readFrame(context.Background(), c.ws); err != nil {
			break
		}
		if err = c.dispatch(f); err != nil {
			_ = c.ws.CloseNow()
			break
		}
	}
	c.mu.Lock()
	if !c.closing.Load() {
		c.err = err
	}
	c.mu.Unlock()
	close(c.msgs)
	close(c.events)
	close(c.done)
}

func (c *Client) dispatch(f legacy.Frame) error {
	switch f.Type {
	case legacy.TypeMessage:
		select {
		case c.msgs <- Message{Channel: f.Channel, Seq: f.Seq, Data: f.Data}:
			return nil
		default:
			return fmt.Errorf("%w (%d buffered)", ErrOverflow, cap(c.msgs))
		}
	case legacy.TypeAck, legacy.TypePong, legacy.TypeError:
		if f.ID > 0 && c.answer(f) {
			return nil
		}
		if f.Type != legacy.TypeError {
			return nil // the answer to an abandoned request
		}
	case legacy.TypeWelcome:
		return nil // only the first one means something
	}
	select {
	case c.events <- f:
	default:
		c.droppedEvents.Add(1)
	}
	return nil
}

// answer hands f to the request waiting for it, if any.
func (c *Client) answer(f legacy.Frame) bool {
	c.mu.Lock()
	reply, ok := c.pending[f.ID]
	c.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case reply <- f:
		return true
	default: // a second answer to the same id: not ours to deliver
		return false
	}
}
