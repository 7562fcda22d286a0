package drive

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/coder/websocket"
)

// SocketIOPath is the Engine.IO endpoint with the query of a client that
// speaks WebSocket from the first request.
const SocketIOPath = "/socket.io/?EIO=4&transport=websocket"

// SocketIOConnect reads the Engine.IO open packet on conn (a WebSocket
// opened with transport=websocket), joins the main namespace and waits
// for its answer, answering a ping that comes first. An unexpected answer
// is errHandshake, the caller's sentinel, wrapped.
func SocketIOConnect(ctx context.Context, conn *websocket.Conn, errHandshake error) error {
	_, open, err := conn.Read(ctx)
	if err != nil {
		return fmt.Errorf("read open packet: %w", err)
	}
	if len(open) == 0 || open[0] != '0' {
		return fmt.Errorf("%w: first packet %.40q is not an Engine.IO open", errHandshake, open)
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		return fmt.Errorf("send namespace connect: %w", err)
	}
	for {
		_, f, err := conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("read namespace connect: %w", err)
		}
		switch {
		case len(f) >= 2 && f[0] == '4' && f[1] == '0':
			return nil
		case len(f) == 1 && f[0] == '2':
			// A ping can come first on a slow server; answer and keep waiting.
			if err := conn.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
				return fmt.Errorf("send pong: %w", err)
			}
		default:
			return fmt.Errorf("%w: namespace connect answered %.60q", errHandshake, f)
		}
	}
}

// AppendSocketIORequest appends the head of a main-namespace event with an
// ack id, 42<id>["event",{"channel":channel, to which the caller adds any
// other member and the closing "}]".
func AppendSocketIORequest(b []byte, event string, id int64, channel string) []byte {
	b = strconv.AppendInt(append(b, "42"...), id, 10)
	b = append(b, `["`...)
	b = append(b, event...)
	b = append(b, `",{"channel":`...)
	return strconv.AppendQuote(b, channel)
}

// FrameKind is what a received frame means to a driver. It only tells
// apart the few frames a driver acts on; everything else is FrameOther.
type FrameKind int

const (
	FrameOther   FrameKind = iota
	FramePing              // must be answered (Engine.IO "2", legacy ping)
	FrameAck               // a positive answer to a request
	FrameError             // a negative answer, or an error the server pushes
	FrameMessage           // a published message delivered
	FrameClose             // the server ended the session (Engine.IO "1", Socket.IO "41")
)

var (
	sioMessagePrefix = []byte(`42["message",`)
	sioOK            = []byte(`"ok":true`)
)

// ClassifySocketIO tells what an Engine.IO text frame is, and the ack id
// of an answer, from its bytes alone: no JSON is decoded on the delivery
// path.
func ClassifySocketIO(f []byte) (FrameKind, int) {
	switch {
	case bytes.HasPrefix(f, sioMessagePrefix):
		return FrameMessage, 0
	case len(f) == 1 && f[0] == '2':
		return FramePing, 0
	case len(f) > 2 && f[0] == '4' && f[1] == '3':
		id, ok := leadingInt(f[2:])
		if !ok {
			return FrameOther, 0
		}
		if !bytes.Contains(f, sioOK) {
			return FrameError, id
		}
		return FrameAck, id
	case len(f) == 1 && f[0] == '1', len(f) >= 2 && f[0] == '4' && f[1] == '1':
		return FrameClose, 0
	}
	return FrameOther, 0
}

// leadingInt parses the decimal digits at the start of b.
func leadingInt(b []byte) (int, bool) {
	n, i := 0, 0
	for ; i < len(b) && i < 9 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	return n, i > 0
}
