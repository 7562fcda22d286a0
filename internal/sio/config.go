package sio

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/baton-rt/baton/internal/eio"
)

// Config configures a Server. Zero fields take the defaults named in their
// comments (Node's defaults where Node has one).
type Config struct {
	// Engine configures the Engine.IO layer.
	Engine eio.Config
	// ConnectTimeout closes a connection that has not joined any namespace
	// this long after it opened. Zero means 45s.
	ConnectTimeout time.Duration
	// MaxAttachments bounds the binary attachments of one packet; a packet
	// announcing more closes the connection. Zero means 10.
	MaxAttachments int
	// MaxPacketSize bounds one packet with its attachments, in bytes. Zero
	// means what Node allows: Engine.MaxPayload bounds each Engine.IO
	// message, and each attachment is a message of its own, so a packet
	// may be Engine.MaxPayload times (1 + MaxAttachments).
	MaxPacketSize int
}

// Defaults applied by WithDefaults.
const (
	DefaultConnectTimeout = 45 * time.Second
	DefaultMaxAttachments = 10
)

// ErrInvalidConfig is matched by every error Validate returns.
var ErrInvalidConfig = errors.New("sio: invalid config")

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Engine = c.Engine.WithDefaults()
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxAttachments == 0 {
		c.MaxAttachments = DefaultMaxAttachments
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = math.MaxInt
		if per := c.Engine.MaxPayload; per > 0 && c.MaxAttachments > 0 && per <= math.MaxInt/(1+c.MaxAttachments) {
			c.MaxPacketSize = per * (1 + c.MaxAttachments)
		}
	}
	return c
}

// Validate reports the first field that cannot be used, naming it.
func (c Config) Validate() error {
	if err := c.Engine.Validate(); err != nil {
		return fmt.Errorf("%w: Engine: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.ConnectTimeout <= 0:
		return fmt.Errorf("%w: ConnectTimeout %s must be > 0", ErrInvalidConfig, c.ConnectTimeout)
	case c.MaxAttachments <= 0:
		return fmt.Errorf("%w: MaxAttachments %d must be > 0", ErrInvalidConfig, c.MaxAttachments)
	case c.MaxPacketSize <= 0:
		return fmt.Errorf("%w: MaxPacketSize %d must be > 0", ErrInvalidConfig, c.MaxPacketSize)
	}
	return nil
}
