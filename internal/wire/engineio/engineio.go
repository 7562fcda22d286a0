// Package engineio encodes and decodes Engine.IO protocol v4 packets: the
// transport layer under Socket.IO. It only turns bytes into packets and back;
// it does no network I/O and keeps no state, so one codec serves the
// websocket and the HTTP long-polling transports, on the server and the
// client side alike.
//
// Wire forms (protocol v4):
//
//   - A text packet is its type digit followed by its data: "4hello",
//     "2probe", "0{...handshake...}". One websocket text frame carries one
//     packet.
//   - A binary message travels as the raw bytes of a websocket binary frame,
//     or, where only text is possible (a polling payload), as "b" followed by
//     the standard base64 (padded) of the bytes.
//   - A polling payload is one or more text packets joined by the record
//     separator 0x1e.
//
// Decoders never panic and return errors wrapping the sentinel errors below.
// Decoded data aliases the input unless said otherwise, so nothing is copied
// on the hot path; callers that keep a packet beyond the life of the input
// buffer must copy it.
package engineio

import (
	"errors"
	"fmt"
)

// Type is an Engine.IO packet type, as the ASCII digit sent on the wire.
type Type byte

// Packet types of protocol v4.
const (
	Open    Type = '0' // server → client handshake (data: Handshake JSON)
	Close   Type = '1' // either side closes the session
	Ping    Type = '2' // heartbeat (server → client) or upgrade probe ("probe")
	Pong    Type = '3' // heartbeat answer or upgrade probe answer
	Message Type = '4' // application data (Socket.IO packets)
	Upgrade Type = '5' // client → server: switch from polling to websocket
	Noop    Type = '6' // sent on polling to release a pending GET during upgrade
)

// Probe is the data of the Ping/Pong pair exchanged on a new websocket
// before an upgrade from polling ("2probe" / "3probe").
const Probe = "probe"

// Separator joins packets in an HTTP long-polling payload.
const Separator = 0x1e

// binaryPrefix marks a base64 binary message in text form.
const binaryPrefix = 'b'

// Valid reports whether t is one of the seven packet types.
func (t Type) Valid() bool { return t >= Open && t <= Noop }

func (t Type) String() string {
	switch t {
	case Open:
		return "open"
	case Close:
		return "close"
	case Ping:
		return "ping"
	case Pong:
		return "pong"
	case Message:
		return "message"
	case Upgrade:
		return "upgrade"
	case Noop:
		return "noop"
	}
	return fmt.Sprintf("Type(%q)", byte(t))
}

// Packet is one Engine.IO packet.
type Packet struct {
	Type Type
	// Data is the payload after the type byte. After DecodeText,
	// DecodePayload and DecodeBinary it aliases the input, except for a
	// base64 binary message, whose decoded bytes are freshly allocated. For
	// binary messages it holds the raw bytes. Nil or empty when absent.
	Data []byte
	// Binary is true only for binary Message packets.
	Binary bool
}

// Errors returned (wrapped, with detail) by the decoders.
var (
	// ErrEmpty: a packet with no type byte (empty frame or empty payload
	// segment).
	ErrEmpty = errors.New("engineio: empty packet")
	// ErrUnknownType: the first byte is not a packet type.
	ErrUnknownType = errors.New("engineio: unknown packet type")
	// ErrBadBase64: a "b" binary message whose base64 does not decode
	// (standard alphabet, padded, as the official parser writes it).
	ErrBadBase64 = errors.New("engineio: bad base64 in binary message")
	// ErrTooManyPackets: a polling payload holds more than MaxPayloadPackets
	// packets.
	ErrTooManyPackets = errors.New("engineio: too many packets in payload")
	// ErrBadHandshake: the data of an Open packet is not a handshake.
	ErrBadHandshake = errors.New("engineio: bad handshake")
)
