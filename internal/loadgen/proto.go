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

// frameKind is what a received frame means to the load generator (see
// drive.FrameKind).
type frameKind = drive.FrameKind

const (
	frameOther   = drive.FrameOther
	framePing    = drive.FramePing
	frameAck     = drive.FrameAck
	frameError   = drive.FrameError
	frameMessage = drive.FrameMessage
	frameClose   = drive.FrameClose
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

func (sioCodec) path() string { return drive.SocketIOPath }

func (sioCodec) subscribe(channel string, id int) []byte {
	return append(drive.AppendSocketIORequest(nil, "subscribe", int64(id), channel), "}]"...)
}

func (sioCodec) classify(f []byte) (frameKind, int) { return drive.ClassifySocketIO(f) }

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
