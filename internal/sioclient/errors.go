package sioclient

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Errors that callers test with errors.Is. Err() of a Client or Socket
// returns one of them, possibly wrapped with detail.
var (
	// ErrClosed: Close was called on this client or socket.
	ErrClosed = errors.New("sioclient: closed")
	// ErrTransportClosed: the server closed the Engine.IO session or the
	// underlying websocket / polling transport failed.
	ErrTransportClosed = errors.New("sioclient: transport closed")
	// ErrHeartbeatTimeout: no ping from the server within
	// pingInterval+pingTimeout; the connection is presumed dead.
	ErrHeartbeatTimeout = errors.New("sioclient: heartbeat timeout")
	// ErrServerDisconnect: the server sent DISCONNECT for the namespace.
	ErrServerDisconnect = errors.New("sioclient: disconnected by server")
	// ErrSlowConsumer: a socket's Events channel was full when an event
	// arrived; the client was closed rather than drop or block.
	ErrSlowConsumer = errors.New("sioclient: event consumer too slow, connection closed")
	// ErrProtocol: the server sent something this client cannot parse.
	ErrProtocol = errors.New("sioclient: protocol error")
	// ErrTooManyPendingAcks: Options.MaxPendingAcks acks are already awaited.
	ErrTooManyPendingAcks = errors.New("sioclient: too many pending acks")
	// ErrAlreadyConnected: Connect on a namespace the client already has.
	ErrAlreadyConnected = errors.New("sioclient: namespace already connected")
	// ErrNoAckRequested: Event.Ack on an event the server sent without a
	// callback.
	ErrNoAckRequested = errors.New("sioclient: event has no ack id")
	// ErrBadAck: an answer of the reference pub/sub API had an unexpected
	// shape.
	ErrBadAck = errors.New("sioclient: unexpected ack")
	// ErrMessageTooLarge: a packet over Options.MaxSendSize was not sent;
	// the session goes on. The error is a *SizeError.
	ErrMessageTooLarge = errors.New("sioclient: packet too large to send")
	// ErrReservedEvent: an emit of an event name Socket.IO reserves
	// ("connect", "disconnect", ...; see reserved) was not sent, as the
	// official client refuses it: a server takes such an event for a
	// protocol violation and ends the connection. The session goes on.
	ErrReservedEvent = errors.New("sioclient: reserved event name")
)

// reserved reports whether Socket.IO keeps the event name event for
// itself (socket.io-parser's RESERVED_EVENTS, as internal/sio's).
func reserved(event string) bool {
	switch event {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// checkEvent refuses an event name that may not be emitted.
func checkEvent(event string) error {
	if reserved(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	return nil
}

// SizeError refuses a packet of Size bytes, over Options.MaxSendSize
// (Limit). It matches ErrMessageTooLarge.
type SizeError struct {
	Size, Limit int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%v: %d bytes, over the limit of %d", ErrMessageTooLarge, e.Size, e.Limit)
}

// Is makes every SizeError match ErrMessageTooLarge.
func (e *SizeError) Is(target error) bool { return target == ErrMessageTooLarge }

// ConnectError is the server's refusal of a namespace (a CONNECT_ERROR
// packet): "Invalid namespace" for an unknown one, or the message and data
// of the error a namespace middleware rejected the auth payload with.
type ConnectError struct {
	Namespace string
	Message   string
	// Data is the error's data as raw JSON, nil when absent.
	Data json.RawMessage
}

func (e *ConnectError) Error() string {
	if len(e.Data) > 0 {
		return fmt.Sprintf("sioclient: connect %s refused: %s (data %s)", e.Namespace, e.Message, e.Data)
	}
	return fmt.Sprintf("sioclient: connect %s refused: %s", e.Namespace, e.Message)
}

// AckError is an {"error": ...} answer of the reference pub/sub API.
type AckError struct {
	Event string
	// Message is the error when it was a JSON string; otherwise the raw
	// JSON of the error value.
	Message string
}

func (e *AckError) Error() string {
	return fmt.Sprintf("sioclient: %s: server error: %s", e.Event, e.Message)
}
