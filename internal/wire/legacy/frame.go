// Package legacy is the codec for Baton's legacy pub/sub protocol: one JSON
// object per WebSocket text frame, told apart by its "type" field. The full
// specification is docs/protocols/legacy.md.
//
// The codec is pure (bytes in, bytes out) and keeps payloads raw: a frame's
// "data" value is sliced out of the input on Decode and copied verbatim on
// Append, never decoded into Go values and re-encoded. Frames of a type this
// package does not know are kept whole (Frame.Raw) so that a gateway can
// bridge them as opaque events.
package legacy

import (
	"errors"
	"fmt"
)

// Frame types. Client to server: subscribe, unsubscribe, publish, ping.
// Server to client: welcome, ack, message, pong, error.
const (
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypePublish     = "publish"
	TypePing        = "ping"
	TypeWelcome     = "welcome"
	TypeAck         = "ack"
	TypeMessage     = "message"
	TypePong        = "pong"
	TypeError       = "error"
)

// Error codes carried by error frames (Frame.Code). docs/protocols/legacy.md
// says when each is sent.
const (
	CodeBadRequest           = "bad_request"
	CodeUnknownType          = "unknown_type"
	CodeInvalidChannel       = "invalid_channel"
	CodeAlreadySubscribed    = "already_subscribed"
	CodeTooManySubscriptions = "too_many_subscriptions"
	CodeMessageTooLarge      = "message_too_large"
	CodeHistoryGone          = "history_gone"
	CodeBadSince             = "bad_since"
	CodeSubscriptionLost     = "subscription_lost"
	CodeInternal             = "internal"
)

// Close reasons sent with the WebSocket close frame, next to its status code
// (see docs/protocols/legacy.md, "Closing").
const (
	ReasonSlowConsumer = "slow_consumer"
	ReasonShutdown     = "shutting_down"
)

// Frame is one decoded legacy frame. Which fields are meaningful depends on
// Type; the rest are zero. Data and Raw alias the buffer given to Decode.
type Frame struct {
	Type string
	// ID matches a request with its ack, pong or error. Valid ids are >= 1;
	// 0 means "none" (an error that answers no particular request).
	ID      uint64
	Channel string
	// Seq is the message's position in its channel (message frames), or
	// the channel's newest seq (publish and subscribe acks, when HasSeq).
	Seq    uint64
	HasSeq bool
	// Since asks a subscribe to replay history after that seq first.
	Since    uint64
	HasSince bool
	// Data is the payload: one raw JSON value exactly as it appeared on
	// the wire, nil when the frame has none.
	Data    []byte
	Session string
	Code    string
	Message string
	// Raw is the whole frame as received. Append writes it verbatim for
	// frames whose Type this package does not know.
	Raw []byte
}

// Known reports whether t is one of the frame types defined by the protocol.
func Known(t string) bool {
	switch t {
	case TypeSubscribe, TypeUnsubscribe, TypePublish, TypePing,
		TypeWelcome, TypeAck, TypeMessage, TypePong, TypeError:
		return true
	}
	return false
}

// Decode errors. Every error Decode returns matches exactly one of them with
// errors.Is; field problems are *FieldError values that also name the field.
var (
	// ErrMalformed: the frame is not a single well-formed JSON object.
	ErrMalformed = errors.New("legacy: malformed frame")
	// ErrMissingField: a field required by the frame's type is absent.
	ErrMissingField = errors.New("legacy: missing field")
	// ErrBadField: a field has the wrong JSON type or an invalid value, or
	// appears twice.
	ErrBadField = errors.New("legacy: invalid field")
)

// SyntaxError locates a JSON syntax problem. It matches ErrMalformed.
type SyntaxError struct {
	Offset int // byte offset in the frame
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("legacy: malformed frame at byte %d: %s", e.Offset, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return ErrMalformed }

// FieldError names the field that made a frame invalid. It matches
// ErrMissingField or ErrBadField.
type FieldError struct {
	Field string
	Err   error // ErrMissingField or ErrBadField
	Why   string
}

func (e *FieldError) Error() string {
	if e.Why == "" {
		return fmt.Sprintf("%v %q", e.Err, e.Field)
	}
	return fmt.Sprintf("%v %q: %s", e.Err, e.Field, e.Why)
}

func (e *FieldError) Unwrap() error { return e.Err }

func missing(field string) error { return &FieldError{Field: field, Err: ErrMissingField} }

func bad(field, why string) error { return &FieldError{Field: field, Err: ErrBadField, Why: why} }
