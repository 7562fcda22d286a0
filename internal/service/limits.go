package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

// Limits bound what one client connection may cost a reference service.
// The zero value of every field means "use the default" (see WithDefaults);
// negative values are rejected by Validate.
type Limits struct {
	// MaxMessageBytes is the largest inbound frame or packet, and the largest
	// HTTP publish body. A legacy client that exceeds it is closed with
	// 1009 (message too big). Zero means 64 KiB.
	MaxMessageBytes int64
	// MaxSubscriptions is how many channels one connection may hold at
	// once; one more subscribe is refused with too_many_subscriptions.
	// Zero means 100.
	MaxSubscriptions int
	// OutboundMessages and OutboundBytes bound a connection's outbound
	// queue. A message that does not fit closes the connection as a slow
	// consumer. The answers and messages of the client's own requests do
	// not: the connection's reader waits for them to be written instead.
	// Zero means 1024 messages and 4 MiB.
	OutboundMessages int
	OutboundBytes    int
	// WriteTimeout bounds one write to a client, so a peer that stopped
	// reading cannot hold its writer forever. Zero means 10s.
	WriteTimeout time.Duration
	// DrainPeriod is how long a graceful shutdown spreads the closing of
	// open connections over, so that clients do not all reconnect in the
	// same instant. Zero means 5s.
	DrainPeriod time.Duration
}

// Default values applied by WithDefaults.
const (
	DefaultMaxMessageBytes  = 64 << 10
	DefaultMaxSubscriptions = 100
	DefaultOutboundMessages = 1024
	DefaultOutboundBytes    = 4 << 20
	DefaultWriteTimeout     = 10 * time.Second
	DefaultDrainPeriod      = 5 * time.Second
)

// ErrInvalidLimits is matched by every error Validate returns.
var ErrInvalidLimits = errors.New("service: invalid limits")

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxMessageBytes == 0 {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if l.MaxSubscriptions == 0 {
		l.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if l.OutboundMessages == 0 {
		l.OutboundMessages = DefaultOutboundMessages
	}
	if l.OutboundBytes == 0 {
		l.OutboundBytes = DefaultOutboundBytes
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.DrainPeriod == 0 {
		l.DrainPeriod = DefaultDrainPeriod
	}
	return l
}

// replayPage is the SubscribeOptions.ReplayPage of a connection with
// limits l (defaults applied): as many of the largest messages as fit the
// quarter of the queue a replay hands over at a time, so that the history a
// replay holds is at most about that window.
func (l Limits) replayPage() int {
	return max(1, min(l.OutboundMessages/4, l.OutboundBytes/4/int(max(1, l.MaxMessageBytes))))
}

// Validate reports the first field that cannot be used, naming it.
func (l Limits) Validate() error {
	switch {
	case l.MaxMessageBytes < 0:
		return fmt.Errorf("%w: MaxMessageBytes %d < 0", ErrInvalidLimits, l.MaxMessageBytes)
	case l.MaxSubscriptions < 0:
		return fmt.Errorf("%w: MaxSubscriptions %d < 0", ErrInvalidLimits, l.MaxSubscriptions)
	case l.OutboundMessages < 0:
		return fmt.Errorf("%w: OutboundMessages %d < 0", ErrInvalidLimits, l.OutboundMessages)
	case l.OutboundBytes < 0:
		return fmt.Errorf("%w: OutboundBytes %d < 0", ErrInvalidLimits, l.OutboundBytes)
	case l.WithDefaults().MaxMessageBytes > int64(l.WithDefaults().OutboundBytes):
		// A single largest message must fit the queue, or every client
		// receiving one would be closed as slow.
		d := l.WithDefaults()
		return fmt.Errorf("%w: OutboundBytes %d is below MaxMessageBytes %d", ErrInvalidLimits, d.OutboundBytes, d.MaxMessageBytes)
	case l.WriteTimeout < 0:
		return fmt.Errorf("%w: WriteTimeout %s < 0", ErrInvalidLimits, l.WriteTimeout)
	case l.DrainPeriod < 0:
		return fmt.Errorf("%w: DrainPeriod %s < 0", ErrInvalidLimits, l.DrainPeriod)
	}
	return nil
}

// MaxDataDepth is the deepest nesting of arrays and objects a published
// message's data may have. Every frame that carries data wraps it in a
// level or two, and the decoders bound nesting (the legacy codec at 512
// levels, the Socket.IO one at 1000): data within this bound fits every
// frame of either protocol, so no subscriber's decoder refuses a message
// another client was allowed to publish.
const MaxDataDepth = 500

// errDataTooDeep refuses a publish whose data nests deeper than
// MaxDataDepth.
var errDataTooDeep = fmt.Errorf("data nests deeper than %d levels", MaxDataDepth)

// checkData refuses data that is not one JSON value nested at most
// MaxDataDepth deep; every publish path calls it before the broker.
func checkData(data []byte) error {
	if !jsonobj.ValidWithin(data, MaxDataDepth) {
		return errDataTooDeep
	}
	return nil
}
