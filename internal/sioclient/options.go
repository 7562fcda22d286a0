package sioclient

import (
	"fmt"
	"net/http"
	"time"
)

// Transport selects how a Client reaches the server.
type Transport int

const (
	// WebSocket opens the Engine.IO session directly on a websocket
	// (?EIO=4&transport=websocket). It is the default: one socket, one
	// goroutine, no HTTP round trips.
	WebSocket Transport = iota
	// Polling opens the session on HTTP long-polling and upgrades it to a
	// websocket when the server offers the upgrade, like the official
	// client's default (transports: ["polling", "websocket"]).
	Polling
	// PollingOnly stays on HTTP long-polling for the life of the session.
	PollingOnly
)

func (t Transport) String() string {
	switch t {
	case WebSocket:
		return "websocket"
	case Polling:
		return "polling+upgrade"
	case PollingOnly:
		return "polling"
	}
	return fmt.Sprintf("Transport(%d)", int(t))
}

// Options configures a Client. The zero value is usable: every zero field
// takes the default named in its comment (see withDefaults).
type Options struct {
	// Transport is WebSocket (zero value), Polling or PollingOnly.
	Transport Transport

	// Path is the Engine.IO endpoint path used when the URL given to Dial
	// has no path (or only "/"). Zero means "/socket.io/".
	Path string

	// Header is sent with the websocket handshake and every polling request
	// (for example an Authorization header or a cookie).
	Header http.Header

	// HTTPClient carries polling requests and the websocket handshake. Nil
	// means a client with no overall timeout: polling GETs are long by
	// design and bounded by the heartbeat instead.
	HTTPClient *http.Client

	// WriteTimeout bounds one write (one websocket frame or one polling
	// POST) once it has started. Caller contexts bound the wait for the
	// write lock; once bytes are on the wire the write cannot be abandoned
	// half-way, so a write that outlives WriteTimeout closes the connection.
	// Zero means 10s.
	WriteTimeout time.Duration

	// MaxMessageSize bounds one incoming websocket message or polling
	// response body, in bytes. Larger input closes the connection. Zero
	// means 1 MiB (the official server's default maxHttpBufferSize). A
	// packet's binary attachments are messages of their own, each bounded
	// alike, as the official client reads them.
	MaxMessageSize int64

	// MaxSendSize bounds one outgoing packet, in bytes, as it goes out on
	// a websocket: an Engine.IO text message (its type byte included)
	// plus the attachments sent with it. A server closes the session of
	// a client that sends more than its maxHttpBufferSize; set this to
	// that, and an emit (or ack) over it fails with a *SizeError before
	// anything is written, and the session goes on. Zero means no bound.
	MaxSendSize int64

	// MaxAttachments bounds the binary attachments of one incoming
	// Socket.IO packet. Zero means 64.
	MaxAttachments int

	// OnEvent, when set, receives every incoming event of every namespace
	// socket of the client, on the client's read goroutine, in arrival
	// order. It must return quickly: while it runs nothing else is read,
	// heartbeats included, so a handler that blocks past the server's
	// pingInterval+pingTimeout gets the connection closed by the server.
	// What ev points to (Args, Message, Binary and their bytes) is valid
	// until OnEvent returns and may be reused for the next event: a
	// handler that keeps any of it keeps a copy. So an event the client
	// has seen the like of costs no allocation.
	// When OnEvent is nil events go to the bounded channel Socket.Events.
	OnEvent func(s *Socket, ev Event)

	// OnDrained, when set, is called on the read goroutine once the
	// client has handled everything it has read (the events of one
	// websocket read, of one poll) and is about to wait for more: the
	// moment for a relay to write out, together, what those events
	// queued. It must not block.
	OnDrained func()

	// OnSocketClose, when set, is called once for every socket that was
	// connected, when it ends, with the same error as Socket.Err. OnClose,
	// when set, is called once when the session ends, after the sockets'
	// OnSocketClose. Both let a holder of thousands of clients learn of an
	// end without a goroutine per client waiting on Done. They run on the
	// goroutine that ended the session (the reading goroutine, a heartbeat
	// timer or a caller of Close) and must not block; they may call Close.
	OnSocketClose func(s *Socket, err error)
	OnClose       func(c *Client, err error)

	// EventBuffer is the capacity of each socket's Events channel (unused
	// with OnEvent). Overflow rule: when an event arrives and the channel is
	// full, the whole client is closed with ErrSlowConsumer. Events are
	// never dropped silently and the read loop never blocks on a consumer.
	// Zero means 64.
	EventBuffer int

	// MaxPendingAcks bounds the EmitWithAck calls waiting for an answer on
	// one socket; one more fails at once with ErrTooManyPendingAcks.
	// Zero means 1024.
	MaxPendingAcks int

	// AckTimeout bounds an EmitWithAckFunc's wait for its answer when its
	// context has no sooner deadline, as the official client's ackTimeout
	// option does. Zero means no bound but the context's deadline.
	AckTimeout time.Duration
}

// Defaults for the zero values of Options.
const (
	DefaultPath           = "/socket.io/"
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMaxMessageSize = 1 << 20
	DefaultMaxAttachments = 64
	DefaultEventBuffer    = 64
	DefaultMaxPendingAcks = 1024
)

// withDefaults returns o with every zero field replaced by its default.
func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxAttachments == 0 {
		o.MaxAttachments = DefaultMaxAttachments
	}
	if o.EventBuffer == 0 {
		o.EventBuffer = DefaultEventBuffer
	}
	if o.MaxPendingAcks == 0 {
		o.MaxPendingAcks = DefaultMaxPendingAcks
	}
	return o
}

// Validate reports the first field of o that holds a value no default can
// fix.
func (o Options) Validate() error {
	switch {
	case o.Transport < WebSocket || o.Transport > PollingOnly:
		return fmt.Errorf("sioclient: Options.Transport: unknown %v", o.Transport)
	case o.WriteTimeout < 0:
		return fmt.Errorf("sioclient: Options.WriteTimeout: negative %v", o.WriteTimeout)
	case o.MaxMessageSize < 0:
		return fmt.Errorf("sioclient: Options.MaxMessageSize: negative %d", o.MaxMessageSize)
	case o.MaxSendSize < 0:
		return fmt.Errorf("sioclient: Options.MaxSendSize: negative %d", o.MaxSendSize)
	case o.MaxAttachments < 0:
		return fmt.Errorf("sioclient: Options.MaxAttachments: negative %d", o.MaxAttachments)
	case o.EventBuffer < 0:
		return fmt.Errorf("sioclient: Options.EventBuffer: negative %d", o.EventBuffer)
	case o.MaxPendingAcks < 0:
		return fmt.Errorf("sioclient: Options.MaxPendingAcks: negative %d", o.MaxPendingAcks)
	}
	return nil
}
