package upstream

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// Kind tells what an Event carries.
type Kind uint8

const (
	// KindMessage is one channel message: Channel, Seq and Data are set.
	// Seq 0 means the backend gave none (an unsequenced message).
	KindMessage Kind = iota
	// KindEvent is any other traffic from the backend, passed through: Name
	// and Args are set.
	KindEvent
	// KindLost says the backend ended the subscription to Channel on its own
	// (the legacy protocol's subscription_lost error). The session recovers
	// it by subscribing again with since.
	KindLost
)

func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindEvent:
		return "event"
	case KindLost:
		return "lost"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Event is one piece of incoming traffic from a backend. Its byte slices
// belong to the receiver: drivers never reuse them.
type Event struct {
	Kind    Kind
	Channel string // KindMessage, KindLost
	Seq     uint64 // KindMessage
	Data    []byte // KindMessage: the payload, raw JSON exactly as received
	Name    string // KindEvent: event name (legacy: the frame's type)
	// Args are a KindEvent's arguments, each one raw JSON value. A legacy
	// frame arrives as one argument: the whole frame object.
	Args [][]byte
	// Binary are a Socket.IO KindEvent's attachments, which placeholders
	// ({"_placeholder":true,"num":N}) in Args refer to by index.
	Binary [][]byte
	// Answer is set on a KindEvent whose sender asked for an
	// acknowledgement (a Socket.IO backend's emit with a callback): it
	// sends args, with their attachments, to that callback, on the
	// connection the event came from. Nil otherwise.
	Answer func(ctx context.Context, args, binary [][]byte) error
}

// Clone returns ev with bytes of its own (see Handler.HandleEvent).
func (ev Event) Clone() Event {
	ev.Data = bytes.Clone(ev.Data)
	if ev.Args != nil {
		args := make([][]byte, len(ev.Args))
		for i, a := range ev.Args {
			args[i] = bytes.Clone(a)
		}
		ev.Args = args
	}
	ev.Binary = CloneAttachments(ev.Binary)
	return ev
}

// CloneAttachments returns a copy of an event's attachments, nil for none
// (the common case, without allocating): Event.Clone's for Binary, for a
// receiver that queues the attachments of a lent event.
func CloneAttachments(bin [][]byte) [][]byte {
	if len(bin) == 0 {
		return nil
	}
	out := make([][]byte, len(bin))
	for i, b := range bin {
		out[i] = bytes.Clone(b)
	}
	return out
}

// Handler receives a connection's traffic. Its methods are called on the
// connection's reading goroutine (HandleClose may come from the goroutine
// that ended the connection, after the reader's last call), so they must
// return quickly and must not call back into the same Conn and wait for an
// answer (that answer would have to be read by the goroutine they are
// blocking). The exception is the Flush that follows a PublishAsync reply
// given up by the request timeout: it runs on the timer's goroutine, maybe
// beside the reader's calls, and maybe after HandleClose, so a Flush must
// be safe at any time.
type Handler interface {
	// HandleEvent receives incoming traffic in arrival order. The event's
	// bytes (Data, Args) may lie in the connection's read buffer: they are
	// valid until HandleEvent returns, and what keeps them longer keeps a
	// copy (Event.Clone). So a relayed frame costs no allocation.
	HandleEvent(Event)
	// HandleClose is called once when the connection has ended: err is nil
	// after Close, otherwise why it ended.
	HandleClose(err error)
	// Flush is called once the reader has handed over everything it has
	// read and is about to wait for more, and after every PublishAsync
	// reply, on the reply's goroutine: the moment to write out what the
	// events and replies before it queued, together. It is the one call
	// that can follow HandleClose: after a reply that the request timeout
	// gave up just as the connection ended.
	Flush()
}

// Conn is one session's connection to one backend. All methods are safe for
// concurrent use, and every call that waits for the backend takes a context.
// Requests are multiplexed: many may wait at once.
type Conn interface {
	// Subscribe subscribes to channel and waits for the backend's ack. With
	// hasSince the backend first replays the retained messages after seq
	// since. The result carries the channel position when the backend
	// reports one (both reference services do; see docs/architecture.md,
	// "Delivery guarantees", for a backend that does not).
	// A refusal is a *RemoteError (for example code history_gone).
	// Messages of the subscription may reach the Handler before Subscribe
	// returns.
	Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (Position, error)
	// Unsubscribe leaves channel and waits for the ack.
	Unsubscribe(ctx context.Context, channel string) error
	// Publish publishes data (one raw JSON value, sent verbatim) and returns
	// the seq the backend assigned.
	Publish(ctx context.Context, channel string, data []byte) (uint64, error)
	// PublishAsync sends a publish request and returns once it is written,
	// without waiting for the answer. reply then runs once, with the seq
	// or why there is none (a *RemoteError, ErrBadReply, ErrClosed, an
	// error wrapping context.DeadlineExceeded), followed by the Handler's
	// Flush on the same goroutine; with either driver that is the reading
	// goroutine, for an answer, so the client's answer and the messages
	// read with it leave together and no goroutine is woken on the way.
	// ctx bounds the write; the answer is awaited until ctx's deadline or
	// for Options.RequestTimeout, whichever ends first. A cancelation of
	// ctx once the request is written is not watched: a request costs no
	// timer or context of its own, and the connection's end replies to
	// every request still waiting.
	// An error means the request was not sent; reply never runs then.
	// reply must return quickly and must not wait on this Conn.
	PublishAsync(ctx context.Context, channel string, data []byte, reply func(seq uint64, err error)) error
	// Request sends a custom event and waits for its acknowledgement,
	// returning the ack's arguments (see the package documentation for how
	// each protocol carries them).
	Request(ctx context.Context, event string, args [][]byte) ([][]byte, error)
	// Emit sends a custom event without waiting for anything.
	Emit(ctx context.Context, event string, args [][]byte) error
	// Close ends the connection and waits for its reading goroutine;
	// HandleClose then runs with a nil error. Idempotent.
	Close() error
	// Done is closed when the connection has ended; Err then says why (nil
	// after Close).
	Done() <-chan struct{}
	Err() error
}

// errNoAnswer ends an asynchronous request whose answer did not come in
// time.
var errNoAnswer = fmt.Errorf("upstream: no answer in time: %w", context.DeadlineExceeded)

// Position is a subscribe ack's report of where the channel stood.
type Position struct {
	Seq    uint64
	HasSeq bool
}

// Dialer opens connections to one backend.
type Dialer interface {
	// Dial connects, performs the protocol handshake, and starts delivering
	// traffic to h. The dialer's own timeout bounds the handshake on top of
	// ctx.
	Dial(ctx context.Context, h Handler) (Conn, error)
	// Protocol is the backend protocol the dialer speaks.
	Protocol() config.Protocol
}

var (
	// ErrClosed is returned by calls on a connection that has ended; it
	// wraps the reason when there was one.
	ErrClosed = errors.New("upstream: connection closed")
	// ErrProtocol: the backend sent something its protocol does not allow.
	ErrProtocol = errors.New("upstream: protocol violation")
	// ErrBadReply: an acknowledgement had an unexpected shape.
	ErrBadReply = errors.New("upstream: unexpected reply")
	// ErrInvalidArgs: the arguments of a request or event cannot be sent
	// on this protocol (see the package documentation).
	ErrInvalidArgs = errors.New("upstream: invalid arguments")
	// ErrMessageTooLarge: the frame of a request or event, as encoded for
	// the backend, is larger than the backend takes
	// (Options.MaxWriteBytes). Nothing was sent, and the connection goes
	// on. Unlike the others its text has no "upstream:" prefix: the edge
	// answers the client with it (message_too_large), naming the
	// backend's limit and nothing of the gateway's insides.
	ErrMessageTooLarge = errors.New("message too large for the backend")
	// ErrHeartbeatTimeout ends a legacy connection whose backend answered
	// nothing to a WebSocket Ping (Options.PingTimeout): presumed dead, it
	// is dropped.
	ErrHeartbeatTimeout = errors.New("upstream: heartbeat timeout")
)

// RemoteError is a backend's refusal of a request: a legacy error frame, or
// a Socket.IO ack {"error":"<code>: <message>"}.
type RemoteError struct {
	Code    string // one of the legacy.Code* values for the reference services; may be empty
	Message string
	Channel string // when the backend named one
}

func (e *RemoteError) Error() string {
	var b strings.Builder
	b.WriteString("upstream: backend refused")
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Channel != "" {
		fmt.Fprintf(&b, " on channel %q", e.Channel)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// IsCode reports whether err is a *RemoteError with the given code.
func IsCode(err error, code string) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Code == code
}

// HistoryGone reports whether err refuses a subscribe's since because the
// channel's stream no longer holds what follows it: its history is gone,
// or the since is ahead of the stream, which can only mean that the
// stream restarted (the since is a seq the channel delivered) under a
// backend that did not see it happen.
func HistoryGone(err error) bool {
	return IsCode(err, legacy.CodeHistoryGone) || IsCode(err, legacy.CodeBadSince)
}

// Mapping names the pub/sub operations on a backend: legacy frame types or
// Socket.IO event names. The zero value means the reference services'
// names; see the package documentation for the payloads.
type Mapping struct {
	Subscribe   string
	Unsubscribe string
	Publish     string
	Message     string
}

// DefaultMapping is the reference services' names.
func DefaultMapping() Mapping {
	return Mapping{
		Subscribe:   config.DefaultEventSubscribe,
		Unsubscribe: config.DefaultEventUnsubscribe,
		Publish:     config.DefaultEventPublish,
		Message:     config.DefaultEventMessage,
	}
}

func (m Mapping) withDefaults() Mapping {
	d := DefaultMapping()
	for _, f := range []struct {
		p   *string
		def string
	}{
		{&m.Subscribe, d.Subscribe}, {&m.Unsubscribe, d.Unsubscribe},
		{&m.Publish, d.Publish}, {&m.Message, d.Message},
	} {
		if *f.p == "" {
			*f.p = f.def
		}
	}
	return m
}

// Options are the settings both drivers share.
type Options struct {
	// URL is the backend endpoint (see config.Backend.URL).
	URL string
	// Mapping names the pub/sub operations; zero fields take the defaults.
	Mapping Mapping
	// DialTimeout bounds connecting and the handshake. Zero means
	// config.DefaultDialTimeout.
	DialTimeout time.Duration
	// RequestTimeout bounds the wait for a PublishAsync's answer when its
	// context has no sooner deadline. Zero means
	// config.DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Header is sent with the handshake.
	Header http.Header
	// HTTPClient carries the handshake (and Socket.IO long-polling). Nil
	// means http.DefaultClient.
	HTTPClient *http.Client
	// MaxMessageBytes bounds one incoming frame; larger ones end the
	// connection. Zero means 1 MiB.
	MaxMessageBytes int64
	// MaxWriteBytes bounds one outgoing frame (a legacy WebSocket
	// message, a Socket.IO backend's Engine.IO packet): the backend's own
	// message limit, over which it would end the connection. A request
	// or event whose frame is larger fails with ErrMessageTooLarge before
	// anything is written. Zero means no bound.
	MaxWriteBytes int64
	// PingInterval and PingTimeout are the heartbeat of a legacy
	// connection (a Socket.IO one has Engine.IO's, which its server
	// drives): a backend that has sent nothing for PingInterval is sent a
	// WebSocket Ping, which its WebSocket library answers with a Pong
	// whatever protocol it speaks, and one that then sends nothing (no
	// Pong, no frame) for PingTimeout is taken for dead and its
	// connection ended, as if it had dropped. Zero means
	// config.DefaultPingInterval and config.DefaultPingTimeout.
	PingInterval time.Duration
	PingTimeout  time.Duration
}

func (o Options) withDefaults() Options {
	o.Mapping = o.Mapping.withDefaults()
	if o.DialTimeout <= 0 {
		o.DialTimeout = config.DefaultDialTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = config.DefaultRequestTimeout
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = config.DefaultMaxMessageBytes
	}
	if o.PingInterval <= 0 {
		o.PingInterval = config.DefaultPingInterval
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = config.DefaultPingTimeout
	}
	return o
}

// NewDialer returns the dialer for a configured backend. maxClientMessage
// is the largest client frame the edge accepts (edge.max_message_bytes);
// the backend's frames are read up to MessageLimit of it. The frames
// sent are bounded by b.MaxMessageBytes, or maxClientMessage when zero.
func NewDialer(b config.Backend, maxClientMessage int) (Dialer, error) {
	opts := Options{
		URL:             b.URL,
		DialTimeout:     b.DialTimeout,
		MaxMessageBytes: MessageLimit(maxClientMessage),
		MaxWriteBytes:   int64(cmp.Or(b.MaxMessageBytes, maxClientMessage)),
		PingInterval:    b.PingInterval,
		PingTimeout:     b.PingTimeout,
		Mapping: Mapping{
			Subscribe:   b.Events.Subscribe,
			Unsubscribe: b.Events.Unsubscribe,
			Publish:     b.Events.Publish,
			Message:     b.Events.Message,
		},
	}
	switch b.Protocol {
	case config.ProtocolLegacy:
		return &LegacyDialer{Options: opts}, nil
	case config.ProtocolSocketIO:
		return &SocketIODialer{Options: opts, Namespace: b.Namespace}, nil
	}
	return nil, fmt.Errorf("upstream: unknown protocol %q", b.Protocol)
}

// envelopeBytes is how much larger than the client frame that caused it a
// backend's frame may be: a publish comes back as a message carrying its
// data with the channel's seq and the message operation's name.
const envelopeBytes = 64 << 10

// MessageLimit is the largest backend frame a gateway whose clients may
// send frames of maxClientMessage bytes reads: what a client could publish,
// in the backend's envelope, and never less than the 1 MiB default.
// Reading less would end the backend connection on a message the edge
// let through, and the backend would replay it on every re-attach.
func MessageLimit(maxClientMessage int) int64 {
	return max(int64(maxClientMessage)+envelopeBytes, config.DefaultMaxMessageBytes)
}

// redactURL is raw as errors show it: a password in the URL (sent as
// basic auth) is masked, since the errors reach the logs, the admin API
// and alerts.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// tooLarge refuses a frame of n bytes, over the backend's limit.
func tooLarge(n, limit int64) error {
	return fmt.Errorf("%w: %d bytes, over its limit of %d", ErrMessageTooLarge, n, limit)
}

// closedErr wraps the reason a connection ended into ErrClosed.
func closedErr(cause error) error {
	if cause == nil || errors.Is(cause, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}
