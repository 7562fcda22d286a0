package eio

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Transport names as they appear in the "transport" query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Config configures a Server. The zero value of every field means the
// default named in its comment (the official server's default where there
// is one); WithDefaults fills them in and Validate rejects the rest.
type Config struct {
	// PingInterval is how long the server waits after a session opens, and
	// after each ping (once its pong came), before it sends the next ping.
	// Zero means 25s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for the pong after a ping
	// before it closes the session. Zero means 20s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds a polling session's upgrade to WebSocket, from
	// the WebSocket handshake to the client's upgrade packet. Zero means 10s.
	UpgradeTimeout time.Duration
	// MaxPayload (maxHttpBufferSize in Node) is the largest WebSocket
	// message and the largest polling POST body, in bytes. It is announced
	// to clients in the handshake. Zero means 1e6.
	MaxPayload int
	// Transports lists the transports clients may use. Nil means both
	// polling and websocket.
	Transports []string
	// DisableUpgrades stops polling sessions from upgrading to WebSocket
	// (the handshake then announces no upgrades). False allows upgrades.
	DisableUpgrades bool

	// QueuePackets and QueueBytes bound one session's outbound queue. A
	// Send that would overflow it closes the session as a slow consumer
	// (ErrSlowConsumer). The client's own traffic waits while the queue
	// is over a share of its bounds (on polling the rest of a POST, past a
	// quarter, for a GET to collect it; on WebSocket its next packets,
	// past half, for the writer to take it, as long as the writer writes:
	// one that writes nothing for a second is left to the overflow rule),
	// and a polling client that takes nothing for PingTimeout meanwhile
	// is closed as a slow consumer too.
	// Zero means 1024 packets and 4 MiB.
	QueuePackets int
	QueueBytes   int
	// WriteTimeout bounds one batch of WebSocket writes, so that a peer
	// that stopped reading cannot hold its writer forever. Zero means 10s.
	WriteTimeout time.Duration
	// DrainPeriod is how long Shutdown spreads the closing of open
	// sessions over, so that clients do not all reconnect at once. Zero
	// means 5s; the Shutdown context's deadline shortens it.
	DrainPeriod time.Duration

	// CORS sets the cross-origin headers on polling responses. The zero
	// value sends none (same-origin clients only), like Node's default.
	CORS CORS

	// CheckRequest, when set, is asked before a new session is created;
	// a non-nil error refuses the handshake with 403 and the error's
	// message (Node's allowRequest). Nil accepts every handshake.
	CheckRequest func(r RequestInfo) error

	// collectWait is how long a WebSocket reader waits for a writer that
	// writes nothing before it reads on (see awaitCollect). Zero means
	// defaultCollectWait; tests shorten it.
	collectWait time.Duration
}

// CORS is the cross-origin policy for polling requests (WebSocket requests
// are not subject to CORS; like the Node server, Origin is not checked on
// them).
type CORS struct {
	// Origins allowed to make cross-origin requests. "*" allows any origin.
	// Empty disables CORS headers unless AllowOrigin is set.
	Origins []string
	// AllowOrigin, when set, also allows the origin of any request it
	// returns true for (requests carry an Origin header when it is asked),
	// for rules that a list of exact origins cannot express, such as host
	// patterns. Nil allows only Origins.
	AllowOrigin func(r *http.Request) bool
	// Credentials adds Access-Control-Allow-Credentials: true. With "*" the
	// request's own origin is echoed, because browsers refuse "*" together
	// with credentials.
	Credentials bool
	// Headers allowed in preflight answers. Nil echoes the preflight's
	// Access-Control-Request-Headers, as the Node cors middleware does.
	Headers []string
	// MaxAge lets browsers cache a preflight answer. Zero sends no
	// Access-Control-Max-Age.
	MaxAge time.Duration
}

// Defaults applied by WithDefaults.
const (
	DefaultPingInterval   = 25 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultUpgradeTimeout = 10 * time.Second
	DefaultMaxPayload     = 1_000_000
	DefaultQueuePackets   = 1024
	DefaultQueueBytes     = 4 << 20
	DefaultWriteTimeout   = 10 * time.Second
	DefaultDrainPeriod    = 5 * time.Second
)

// ErrInvalidConfig is matched by every error Validate returns.
var ErrInvalidConfig = errors.New("eio: invalid config")

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.UpgradeTimeout == 0 {
		c.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.Transports == nil {
		c.Transports = []string{TransportPolling, TransportWebSocket}
	}
	if c.QueuePackets == 0 {
		c.QueuePackets = DefaultQueuePackets
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.DrainPeriod == 0 {
		c.DrainPeriod = DefaultDrainPeriod
	}
	if c.collectWait == 0 {
		c.collectWait = defaultCollectWait
	}
	return c
}

// Validate reports the first field that cannot be used, naming it. It
// expects defaults to be applied already (negative values are errors).
func (c Config) Validate() error {
	switch {
	case c.PingInterval <= 0:
		return fmt.Errorf("%w: PingInterval %s must be > 0", ErrInvalidConfig, c.PingInterval)
	case c.PingTimeout <= 0:
		return fmt.Errorf("%w: PingTimeout %s must be > 0", ErrInvalidConfig, c.PingTimeout)
	case c.UpgradeTimeout <= 0:
		return fmt.Errorf("%w: UpgradeTimeout %s must be > 0", ErrInvalidConfig, c.UpgradeTimeout)
	case c.MaxPayload <= 0:
		return fmt.Errorf("%w: MaxPayload %d must be > 0", ErrInvalidConfig, c.MaxPayload)
	case len(c.Transports) == 0:
		return fmt.Errorf("%w: Transports is empty", ErrInvalidConfig)
	case c.QueuePackets <= 0:
		return fmt.Errorf("%w: QueuePackets %d must be > 0", ErrInvalidConfig, c.QueuePackets)
	case c.QueueBytes <= 0:
		return fmt.Errorf("%w: QueueBytes %d must be > 0", ErrInvalidConfig, c.QueueBytes)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("%w: WriteTimeout %s must be > 0", ErrInvalidConfig, c.WriteTimeout)
	case c.DrainPeriod < 0:
		return fmt.Errorf("%w: DrainPeriod %s must be >= 0", ErrInvalidConfig, c.DrainPeriod)
	case c.CORS.MaxAge < 0:
		return fmt.Errorf("%w: CORS.MaxAge %s must be >= 0", ErrInvalidConfig, c.CORS.MaxAge)
	}
	for _, t := range c.Transports {
		if t != TransportPolling && t != TransportWebSocket {
			return fmt.Errorf("%w: Transports: unknown transport %q", ErrInvalidConfig, t)
		}
	}
	return nil
}

func (c Config) allows(transport string) bool {
	for _, t := range c.Transports {
		if t == transport {
			return true
		}
	}
	return false
}

// upgradesFrom is the handshake's "upgrades" list for a session opened on
// transport.
func (c Config) upgradesFrom(transport string) []string {
	if transport == TransportPolling && !c.DisableUpgrades && c.allows(TransportWebSocket) {
		return []string{TransportWebSocket}
	}
	return []string{}
}
