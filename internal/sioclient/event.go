package sioclient

import (
	"context"
	"strconv"
)

// Payload is the arguments of an event or an ack: each argument as raw
// JSON, exactly as sent or received, and the binary attachments that
// placeholders ({"_placeholder":true,"num":N}) inside the arguments refer
// to, by index N.
type Payload struct {
	Args   [][]byte
	Binary [][]byte
}

// Placeholder returns the JSON that stands for attachment n in Args.
func Placeholder(n int) []byte {
	b := append([]byte(nil), `{"_placeholder":true,"num":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '}')
}

// Event is one event received from the server on a namespace socket. Its
// byte slices belong to the receiver: the client never reuses them.
type Event struct {
	Name string
	Payload
	// Message is set for "message" events of the reference pub/sub API
	// ({"channel","seq","data"} as first argument) and nil otherwise.
	Message *Message

	s     *Socket
	id    int64
	hasID bool
}

// Socket returns the socket the event arrived on.
func (e Event) Socket() *Socket { return e.s }

// WantsAck reports whether the server asked for an acknowledgement (its
// emit had a callback). Answer it once with Ack or AckPayload.
func (e Event) WantsAck() bool { return e.hasID }

// Ack answers the server's callback with JSON arguments. It returns
// ErrNoAckRequested when the server did not ask for one.
func (e Event) Ack(ctx context.Context, args ...[]byte) error {
	return e.AckPayload(ctx, Payload{Args: args})
}

// AckPayload answers the server's callback with arguments that may carry
// binary attachments.
func (e Event) AckPayload(ctx context.Context, p Payload) error {
	if !e.hasID {
		return ErrNoAckRequested
	}
	return e.s.sendAck(ctx, e.id, p)
}
