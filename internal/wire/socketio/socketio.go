// Package socketio encodes and decodes Socket.IO protocol v5 packets: the
// text packets carried in Engine.IO messages, and binary packets whose
// attachments follow as separate binary Engine.IO messages. It does no
// network I/O.
//
// Wire form of a packet (all parts but the type optional):
//
//	<type digit>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//
// for example `2["chat",{"text":"hi"}]`, `0/admin,{"token":"x"}`,
// `3/chat,12["ok"]` or `451-["upload",{"_placeholder":true,"num":0}]`.
//
// Payloads stay raw: Decode checks that the JSON is well formed and has the
// shape the official parser requires for the packet type, then hands out the
// bytes as they arrived, and Append writes them back as they are. Binary
// placeholders ({"_placeholder":true,"num":N}) are left in the JSON; the
// attachments travel beside it (see Message, Decoder, Encode).
//
// The official Node parser (socket.io-parser, socket.io 4.8) is the
// reference; where this package is stricter it says so. Reserved event names
// ("connect", "disconnect", ...) are the server's business, not the codec's.
package socketio

import (
	"errors"
	"strconv"
)

// Type is a Socket.IO packet type (its wire form is the ASCII digit).
type Type byte

// Packet types of protocol v5.
const (
	Connect      Type = iota // join a namespace (data: auth object) / accepted (data: {"sid":...})
	Disconnect               // leave a namespace
	Event                    // data: ["name", args...]
	Ack                      // data: [args...], answers an Event with the same ID
	ConnectError             // data: {"message":...[, "data":...]}
	BinaryEvent              // Event with binary attachments
	BinaryAck                // Ack with binary attachments
)

var typeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the seven packet types.
func (t Type) Valid() bool { return t <= BinaryAck }

// IsBinary reports whether packets of type t carry attachments.
func (t Type) IsBinary() bool { return t == BinaryEvent || t == BinaryAck }

// Packet is one Socket.IO packet, without its binary attachments.
type Packet struct {
	Type Type
	// Namespace is "/" when absent on the wire. Append omits "/" and "".
	Namespace string
	// ID is the ack id, meaningful only when HasID.
	ID    int64
	HasID bool
	// Attachments is, for BinaryEvent and BinaryAck, the number of binary
	// attachments that follow the packet.
	Attachments int
	// Data is the JSON payload exactly as on the wire (after Decode it
	// aliases the input), nil when absent. It is never re-encoded.
	Data []byte
}

// Errors returned (wrapped, with detail) by this package.
var (
	// ErrBadPacket: the text is not a valid Socket.IO packet.
	ErrBadPacket = errors.New("socketio: bad packet")
	// ErrTooManyAttachments: a binary packet announces more attachments
	// than the Decoder accepts.
	ErrTooManyAttachments = errors.New("socketio: too many attachments")
	// ErrTooLarge: a packet with its attachments exceeds the Decoder's
	// MaxPacketSize.
	ErrTooLarge = errors.New("socketio: packet too large")
	// ErrUnexpectedBinary: a binary message arrived while no binary packet
	// was waiting for attachments.
	ErrUnexpectedBinary = errors.New("socketio: unexpected binary attachment")
	// ErrUnexpectedText: a text packet arrived while a binary packet was
	// still waiting for attachments.
	ErrUnexpectedText = errors.New("socketio: text packet while awaiting attachments")
)
