package sio

import (
	"encoding/json"
	"errors"
)

// Why a socket left its namespace, besides the Engine.IO close reasons
// (eio.ErrClientClose, eio.ErrPingTimeout, ...) that end every socket of a
// connection.
var (
	// ErrClientDisconnect: the client sent DISCONNECT for the namespace
	// ("client namespace disconnect").
	ErrClientDisconnect = errors.New("sio: client namespace disconnect")
	// ErrServerDisconnect: Socket.Disconnect ("server namespace
	// disconnect").
	ErrServerDisconnect = errors.New("sio: server namespace disconnect")
	// ErrServerClose: Socket.Close closed the whole connection ("forced
	// server close").
	ErrServerClose = errors.New("sio: forced server close")
	// ErrProtocol: the client broke the protocol (an undecodable packet, a
	// packet for a namespace it has not joined, ...); the connection is
	// closed.
	ErrProtocol = errors.New("sio: protocol violation")
)

// Errors returned to callers.
var (
	// ErrReservedEvent: the event name is reserved by Socket.IO.
	ErrReservedEvent = errors.New("sio: reserved event name")
	// ErrDisconnected: the socket is no longer connected.
	ErrDisconnected = errors.New("sio: socket disconnected")
	// ErrAlreadyAcked: an event was acknowledged twice.
	ErrAlreadyAcked = errors.New("sio: event already acknowledged")
	// ErrNoAck: the event was sent without an ack id.
	ErrNoAck = errors.New("sio: event does not ask for an ack")
)

// reserved are the event names neither side may emit (socket.io-parser's
// RESERVED_EVENTS).
var reserved = map[string]bool{
	"connect":        true,
	"connect_error":  true,
	"disconnect":     true,
	"disconnecting":  true,
	"newListener":    true,
	"removeListener": true,
}

// ConnectError refuses a namespace connection. Returned by a middleware, it
// becomes the CONNECT_ERROR packet {"message":Message,"data":Data}; any
// other error sends its Error() as the message.
type ConnectError struct {
	Message string
	// Data is raw JSON sent as the "data" field; nil omits the field.
	Data json.RawMessage
}

func (e *ConnectError) Error() string { return "sio: connect refused: " + e.Message }

// connectErrorPayload is the CONNECT_ERROR body for err.
func connectErrorPayload(err error) []byte {
	var ce *ConnectError
	body := struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data,omitempty"`
	}{Message: err.Error()}
	if errors.As(err, &ce) {
		body.Message, body.Data = ce.Message, ce.Data
	}
	b, mErr := json.Marshal(body)
	if mErr != nil { // Data was not valid JSON
		b, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{body.Message})
	}
	return b
}
