package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/wire/jsonstr"
)

// SocketIODialer dials backends that speak Socket.IO v5 (over
// internal/sioclient, on a websocket by default).
type SocketIODialer struct {
	Options
	// Namespace to join. Empty means "/".
	Namespace string
	// Transport is how the client reaches the server; the zero value is a
	// direct websocket.
	Transport sioclient.Transport
}

var _ Dialer = (*SocketIODialer)(nil)

// Protocol returns config.ProtocolSocketIO.
func (d *SocketIODialer) Protocol() config.Protocol { return config.ProtocolSocketIO }

// Dial opens the Engine.IO session and joins the namespace.
func (d *SocketIODialer) Dial(ctx context.Context, h Handler) (Conn, error) {
	o := d.Options.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	c := &sioConn{h: h, m: o.Mapping, done: make(chan struct{})}
	cl, err := sioclient.Dial(ctx, o.URL, sioclient.Options{
		Transport:      d.Transport,
		Header:         o.Header,
		HTTPClient:     o.HTTPClient,
		MaxMessageSize: o.MaxMessageBytes,
		MaxSendSize:    o.MaxWriteBytes,
		AckTimeout:     o.RequestTimeout,
		OnEvent:        c.onEvent,
		OnDrained:      c.flush,
		OnSocketClose:  c.onSocketClose,
		OnClose:        c.onClose,
	})
	if err != nil {
		return nil, fmt.Errorf("upstream: dial socket.io %s: %w", redactURL(o.URL), err)
	}
	s, err := cl.Connect(ctx, d.Namespace, nil)
	if err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("upstream: connect socket.io %s namespace %q: %w", redactURL(o.URL), d.Namespace, err)
	}
	c.mu.Lock()
	c.cl, c.s = cl, s
	ended := c.ended
	c.ready = !ended
	c.mu.Unlock()
	if ended {
		// The session ended between the namespace's answer and here: the
		// caller never sees this connection, so HandleClose must not run.
		return nil, fmt.Errorf("upstream: connect socket.io %s: %w", redactURL(o.URL), closedErr(s.Err()))
	}
	return c, nil
}

// sioConn learns of its end from sioclient's close callbacks rather than
// from a goroutine per connection waiting on Done: OnSocketClose (the
// namespace ended, for example a server DISCONNECT) ends the whole
// Engine.IO session, and OnClose, which follows once, reports the end.
type sioConn struct {
	h    Handler
	m    Mapping
	cl   *sioclient.Client
	s    *sioclient.Socket
	done chan struct{} // closed after HandleClose has run

	closing atomic.Bool
	owed    atomic.Bool // a PublishAsync answer was handed over on the reader: its Flush is owed

	// hmu orders the handler's calls: sioclient may report the end on
	// the goroutine that closes while its reader is still in OnEvent, and
	// HandleClose must come after the reader's last call (the Handler
	// contract). Once it has run (handled), later calls are dropped.
	hmu     sync.Mutex
	handled bool

	mu      sync.Mutex
	ready   bool  // Dial returned the connection: its end goes to HandleClose
	ended   bool  // the session has ended
	sockErr error // why the socket ended, when it ended first
	err     error
}

// onSocketClose runs when the namespace socket ends. A socket that ends
// alone (a server DISCONNECT, handled on the reading goroutine, from where
// sioclient allows Close) takes the session with it; when the session
// itself is ending, OnClose follows anyway.
func (c *sioConn) onSocketClose(s *sioclient.Socket, err error) {
	c.mu.Lock()
	if c.sockErr == nil {
		c.sockErr = err
	}
	c.mu.Unlock()
	if cl := s.Client(); cl.Err() == nil {
		_ = cl.Close()
	}
}

// onClose runs once when the Engine.IO session has ended, on the
// goroutine that ended it.
func (c *sioConn) onClose(_ *sioclient.Client, err error) {
	c.mu.Lock()
	if c.sockErr != nil {
		err = c.sockErr // the socket's reason says more than the session's
	}
	if c.closing.Load() {
		err = nil
	}
	c.ended, c.err = true, err
	ready := c.ready
	c.mu.Unlock()
	if !ready {
		return // a failed Dial: nobody holds this connection
	}
	c.hmu.Lock()
	c.h.HandleClose(err)
	c.handled = true
	c.hmu.Unlock()
	close(c.done)
}

// flush is the handler's Flush, unless HandleClose has run.
func (c *sioConn) flush() {
	owed := c.owed.Swap(false)
	c.hmu.Lock()
	if !c.handled || owed {
		c.h.Flush()
	}
	c.hmu.Unlock()
}

// flushReply is the Flush owed to a PublishAsync reply, even after
// HandleClose: a reply given up by the request timeout just as the
// connection ended runs after it, and what it queued must not wait for
// the next flush (see Handler).
func (c *sioConn) flushReply() {
	c.hmu.Lock()
	c.h.Flush()
	c.hmu.Unlock()
}

// onEvent runs on the client's reading goroutine; the events of one read
// are flushed together, once sioclient has handled them (OnDrained).
func (c *sioConn) onEvent(s *sioclient.Socket, ev sioclient.Event) {
	var err error
	c.hmu.Lock()
	if !c.handled {
		err = c.handle(ev)
	}
	c.hmu.Unlock()
	if err != nil {
		c.fail(s, err)
	}
}

// fail ends the connection for err, the backend breaking its protocol, as
// the legacy driver ends its connection on a frame it cannot read. It runs
// on the reading goroutine, without hmu: the end's HandleClose takes it.
func (c *sioConn) fail(s *sioclient.Socket, err error) {
	c.mu.Lock()
	if c.sockErr == nil {
		c.sockErr = err
	}
	c.mu.Unlock()
	_ = s.Client().Close()
}

// handle hands ev over; an event named as the mapping's message that is
// no channel message is an error (ErrProtocol), handed over as nothing.
func (c *sioConn) handle(ev sioclient.Event) error {
	if ev.Name == c.m.Message {
		msg, err := sioMessage(ev)
		if err != nil {
			return err
		}
		c.h.HandleEvent(msg)
		return nil
	}
	out := Event{Kind: KindEvent, Name: ev.Name, Args: ev.Args, Binary: ev.Binary}
	if ev.WantsAck() {
		out.Answer = func(ctx context.Context, args, binary [][]byte) error {
			if err := ev.AckPayload(ctx, sioclient.Payload{Args: args, Binary: binary}); err != nil {
				return sendErr(err)
			}
			return nil
		}
	}
	c.h.HandleEvent(out)
	return nil
}

// sioMessage reads a message event: its first argument is
// {"channel":C,"seq":N,"data":D}, seq optional (an unsequenced message),
// as a legacy backend's message frame. Anything else, for example a seq
// of -1 or "7", or no data, is ErrProtocol: passed on as a custom event of
// that name, it would reach a legacy client as a message frame its
// decoder rejects.
func sioMessage(ev sioclient.Event) (Event, error) {
	if m := ev.Message; m != nil && m.Data != nil {
		return Event{Kind: KindMessage, Channel: m.Channel, Seq: m.Seq, Data: m.Data}, nil
	}
	if len(ev.Args) == 0 {
		return Event{}, fmt.Errorf("%w: %s event without argument", ErrProtocol, ev.Name)
	}
	msg, err := parseMessage(ev.Args[0])
	if err == nil && msg.Data == nil {
		err = fmt.Errorf("%w: message without data", ErrProtocol)
	}
	return msg, err
}

// call emits a pub/sub request and reads its ack.
func (c *sioConn) call(ctx context.Context, event string, body []byte) (Position, error) {
	reply, err := c.s.EmitWithAck(ctx, event, body)
	if err != nil {
		return Position{}, c.callErr(ctx, err)
	}
	if len(reply.Args) == 0 {
		return Position{}, fmt.Errorf("%w: %s: empty ack", ErrBadReply, event)
	}
	return parseAck(event, reply.Args[0])
}

// callErr turns a failed emit into ctx's error, ErrClosed or
// ErrMessageTooLarge.
func (c *sioConn) callErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if isDone(c.s.Done()) {
		return closedErr(err)
	}
	return sendErr(err)
}

// sendErr is ErrMessageTooLarge for a packet sioclient refused for its
// size, ErrInvalidArgs for an event name Socket.IO reserves (which the
// backend would take for a protocol violation), else err. A function of
// its own: the variable errors.As fills goes to the heap, and only a
// failed emit pays for it.
func sendErr(err error) error {
	var se *sioclient.SizeError
	switch {
	case errors.As(err, &se):
		return tooLarge(se.Size, se.Limit)
	case errors.Is(err, sioclient.ErrReservedEvent):
		return fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	return err
}

// parseAck reads a reference-style ack: {"ok":true[,"seq":N]} or
// {"error":E} where E is "<code>: <message>", any other string, or an
// object {"code":...,"message":...}. It runs once per pub/sub request, so
// it reads the object with jsonobj.ObjectFields rather than
// encoding/json; a malformed object, or an ok or seq of the wrong type, is
// ErrBadReply even beside an error, and null counts as absent.
func parseAck(event string, arg []byte) (Position, error) {
	a, err := sioclient.ReadPubSubAck(arg)
	switch {
	case err != nil:
		return Position{}, fmt.Errorf("%w: %s: %w", ErrBadReply, event, err)
	case a.Error != nil:
		return Position{}, remoteError(a.Error) // rare: encoding/json is fine there
	case !a.OK:
		return Position{}, fmt.Errorf("%w: %s: %s", ErrBadReply, event, arg)
	}
	return Position{Seq: a.Seq, HasSeq: a.HasSeq}, nil
}

func remoteError(raw json.RawMessage) *RemoteError {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		code, msg, ok := strings.Cut(s, ": ")
		if ok && isCode(code) {
			return &RemoteError{Code: code, Message: msg}
		}
		return &RemoteError{Message: s}
	}
	var o struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Channel string `json:"channel"`
	}
	if json.Unmarshal(raw, &o) == nil && (o.Code != "" || o.Message != "") {
		return &RemoteError{Code: o.Code, Message: o.Message, Channel: o.Channel}
	}
	return &RemoteError{Message: string(raw)}
}

// isCode reports whether s looks like an error code: lower-case letters,
// digits and underscores.
func isCode(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 'a' || b > 'z') && (b < '0' || b > '9') && b != '_' {
			return false
		}
	}
	return true
}

func channelBody(channel string) []byte { return appendChannelBody(nil, channel) }

// appendChannelBody appends {"channel":C, without the closing brace.
func appendChannelBody(dst []byte, channel string) []byte {
	return jsonstr.Append(append(dst, `{"channel":`...), channel, jsonstr.JS)
}

func (c *sioConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (Position, error) {
	body := channelBody(channel)
	if hasSince {
		body = strconv.AppendUint(append(body, `,"since":`...), since, 10)
	}
	return c.call(ctx, c.m.Subscribe, append(body, '}'))
}

func (c *sioConn) Unsubscribe(ctx context.Context, channel string) error {
	_, err := c.call(ctx, c.m.Unsubscribe, append(channelBody(channel), '}'))
	return err
}

func (c *sioConn) Publish(ctx context.Context, channel string, data []byte) (uint64, error) {
	body, err := appendPublishBody(nil, channel, data)
	if err != nil {
		return 0, err
	}
	return publishSeq(c.call(ctx, c.m.Publish, body))
}

// appendPublishBody appends a publish event's argument,
// {"channel":C,"data":D}, to dst.
func appendPublishBody(dst []byte, channel string, data []byte) ([]byte, error) {
	if !json.Valid(data) {
		return dst, fmt.Errorf("%w: publish data is not one JSON value", ErrInvalidArgs)
	}
	body := append(appendChannelBody(dst, channel), `,"data":`...)
	return append(append(body, data...), '}'), nil
}

// publishSeq reads a publish's answer, or passes err on.
func publishSeq(ack Position, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	if !ack.HasSeq {
		return 0, fmt.Errorf("%w: publish ack without seq", ErrBadReply)
	}
	return ack.Seq, nil
}

// PublishAsync hands the answer over on the client's reader, which
// flushes the handler once it has handled what it read (OnDrained); an
// answer that does not come (the timeout, the connection's end) is
// followed by a Flush of its own.
func (c *sioConn) PublishAsync(ctx context.Context, channel string, data []byte, reply func(uint64, error)) error {
	// The body is copied into the event's frame before EmitWithAckFunc
	// returns: a pooled buffer serves.
	bp := framePool.Get()
	defer framePool.Put(bp)
	body, err := appendPublishBody(*bp, channel, data)
	*bp = body
	if err != nil {
		return err
	}
	err = c.s.EmitWithAckFunc(ctx, c.m.Publish, func(p sioclient.Payload, err error) {
		if err != nil {
			reply(0, c.callErr(ctx, err))
			c.flushReply()
			return
		}
		if len(p.Args) == 0 {
			reply(0, fmt.Errorf("%w: %s: empty ack", ErrBadReply, c.m.Publish))
			c.owed.Store(true)
			return
		}
		reply(publishSeq(parseAck(c.m.Publish, p.Args[0])))
		c.owed.Store(true)
	}, body)
	if err != nil {
		return c.callErr(ctx, err)
	}
	return nil
}

func (c *sioConn) Request(ctx context.Context, event string, args [][]byte) ([][]byte, error) {
	if err := checkEvent(event, args); err != nil {
		return nil, err
	}
	reply, err := c.s.EmitWithAck(ctx, event, args...)
	if err != nil {
		return nil, c.callErr(ctx, err)
	}
	if len(reply.Binary) > 0 {
		// Its placeholders would reach the client without what they stand for.
		return nil, fmt.Errorf("%w: %s: binary attachments in an ack are not supported", ErrBadReply, event)
	}
	return reply.Args, nil
}

func (c *sioConn) Emit(ctx context.Context, event string, args [][]byte) error {
	if err := checkEvent(event, args); err != nil {
		return err
	}
	if err := c.s.Emit(ctx, event, args...); err != nil {
		return c.callErr(ctx, err)
	}
	return nil
}

// Close ends the Engine.IO session and waits until HandleClose has run.
func (c *sioConn) Close() error {
	c.closing.Store(true)
	_ = c.cl.Close()
	<-c.done
	return nil
}

func (c *sioConn) Done() <-chan struct{} { return c.done }

func (c *sioConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
