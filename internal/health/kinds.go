package health

import (
	"fmt"
	"time"
)

// Clock tells the time. Tests inject a fake to drive the window
// deterministically; the zero Config uses the system clock.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

// Counter names one counted event.
type Counter uint8

// Counters. Requests is the denominator of the error rate; every other
// counter is an error (see the package comment).
const (
	// Requests: operations sent to the backend that expect an answer —
	// requests, subscribes, dials, probe publishes.
	Requests Counter = iota
	// DialFailures: a connection to the backend could not be opened.
	DialFailures
	// HandshakeFailures: the connection opened but the protocol handshake
	// (Engine.IO open, Socket.IO CONNECT, legacy welcome) failed.
	HandshakeFailures
	// ProtocolErrors: the backend sent something the driver could not parse
	// or that broke the protocol.
	ProtocolErrors
	// ErrorReplies: the backend answered a request with an error.
	ErrorReplies
	// AbnormalCloses: the backend closed or dropped a connection that was
	// not being closed by us.
	AbnormalCloses
	// AckTimeouts: an acknowledgement did not arrive in time.
	AckTimeouts
	// ProbeFailures: a synthetic probe could not be published, or was not
	// delivered within the probe timeout.
	ProbeFailures

	NumCounters = int(iota)
)

var counterNames = [NumCounters]string{
	"requests", "dial_failures", "handshake_failures", "protocol_errors",
	"error_replies", "abnormal_closes", "ack_timeouts", "probe_failures",
}

// String returns the counter's snake_case name, as used in JSON and metric
// labels.
func (c Counter) String() string {
	if int(c) < NumCounters {
		return counterNames[c]
	}
	return fmt.Sprintf("Counter(%d)", uint8(c))
}

// Kind names one measured latency.
type Kind uint8

// Latency kinds.
const (
	// Handshake: dial start → backend handshake complete.
	Handshake Kind = iota
	// RequestAck: request sent → its acknowledgement received.
	RequestAck
	// SubscribeAck: subscribe sent → its acknowledgement received.
	SubscribeAck
	// ProbeDelivery: synthetic probe published → delivered back to the
	// prober's subscription (see Prober).
	ProbeDelivery

	NumKinds = int(iota)
)

var kindNames = [NumKinds]string{"handshake", "request_ack", "subscribe_ack", "probe_delivery"}

// String returns the kind's snake_case name, as used in JSON and metric
// labels.
func (k Kind) String() string {
	if int(k) < NumKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}
