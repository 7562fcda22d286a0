package loadgen

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/baton-rt/baton/internal/loadgen/drive"
)

// Protocol names a wire protocol the load generator speaks.
type Protocol string

// The protocols of the services under test.
const (
	// SocketIO is Engine.IO v4 + Socket.IO v5 over a websocket, main namespace.
	SocketIO Protocol = "socketio"
	// Legacy is the legacy service's JSON frames on /ws.
	Legacy Protocol = "legacy"
)

// frameKind is what a received frame means to the load generator. It only
// tells apart the few frames it must act on; everything else is ignored.
type frameKind int

const (
	frameOther   frameKind = iota
	framePing              // must be answered (Engine.IO "2", legacy ping)
	frameAck               // positive reply to our subscribe
	frameError             // negative reply, or an error the server pushes
	frameMessage           // a published message delivered to us
	frameClose             // the server ended the session (Engine.IO "1", Socket.IO "41")
)

// codec is the per-protocol part of the client: the URL path, the frames it
// writes and a cheap classifier for the frames it reads. Classification looks
// at bytes only and never decodes JSON on the delivery path, so that the load
// generator spends its CPU on sockets, not parsing.
type codec interface {
	path() string
	subscribe(channel string, id int) []byte
	classify(frame []byte) (frameKind, int)
	pong(ping []byte) []byte
}

func codecFor(p Protocol) (codec, error) {
	switch p {
	case SocketIO:
		return sioCodec{}, nil
	case Legacy:
		return legacyCodec{}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProtocol, p)
}

type sioCodec struct{}

func (sioCodec) path() string { return "/socket.io/?EIO=4&transport=websocket" }

func (sioCodec) subscribe(channel string, id int) []byte {
	b := []byte("42")
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `["subscribe",{"channel":`...)
	b = strconv.AppendQuote(b, channel)
	return append(b, "}]"...)
}

var (
	sioMessagePrefix = []byte(`42["message",`)
	sioOK            = []byte(`"ok":true`)
)

func (sioCodec) classify(f []byte) (frameKind, int) {
	switch {
	case bytes.HasPrefix(f, sioMessagePrefix):
		return frameMessage, 0
	case len(f) == 1 && f[0] == '2':
		return framePing, 0
	case len(f) > 2 && f[0] == '4' && f[1] == '3':
		id, ok := leadingInt(f[2:])
		if !ok {
			return frameOther, 0
		}
		if !bytes.Contains(f, sioOK) {
			return frameError, id
		}
		return frameAck, id
	case len(f) == 1 && f[0] == '1', len(f) >= 2 && f[0] == '4' && f[1] == '1':
		return frameClose, 0
	}
	return frameOther, 0
}

func (sioCodec) pong([]byte) []byte { return []byte("3") }

type legacyCodec struct{}

func (legacyCodec) path() string { return "/ws" }

func (legacyCodec) subscribe(channel string, id int) []byte {
	b := []byte(`{"type":"subscribe","channel":`)
	b = strconv.AppendQuote(b, channel)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	return append(b, '}')
}

var (
	legacyMessage = []byte(`"type":"message"`)
	legacyAck     = []byte(`"type":"ack"`)
	legacyPing    = []byte(`"type":"ping"`)
	legacyError   = []byte(`"type":"error"`)
	legacyID      = []byte(`"id":`)
)

func (legacyCodec) classify(f []byte) (frameKind, int) {
	switch {
	case bytes.Contains(f, legacyMessage):
		return frameMessage, 0
	case bytes.Contains(f, legacyAck):
		id, _ := drive.IntAfter(f, legacyID)
		return frameAck, int(id)
	case bytes.Contains(f, legacyError):
		id, _ := drive.IntAfter(f, legacyID)
		return frameError, int(id)
	case bytes.Contains(f, legacyPing):
		return framePing, 0
	}
	return frameOther, 0
}

func (legacyCodec) pong(ping []byte) []byte {
	// Echo the ping's id when it has one, so request/response style pings match.
	if id, ok := drive.IntAfter(ping, legacyID); ok {
		return append(strconv.AppendInt([]byte(`{"type":"pong","id":`), id, 10), '}')
	}
	return []byte(`{"type":"pong"}`)
}

// leadingInt parses the decimal digits at the start of b.
func leadingInt(b []byte) (int, bool) {
	n, i := 0, 0
	for ; i < len(b) && i < 9 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	return n, i > 0
}
