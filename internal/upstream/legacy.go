package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/bufpool"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/expiry"
	"github.com/baton-rt/baton/internal/wire/legacy"
	"github.com/baton-rt/baton/internal/wsconn"
)

// LegacyDialer dials backends that speak the legacy protocol
// (docs/protocols/legacy.md).
//
// It reads with its own loop over the legacy codec instead of
// internal/legacyclient because the gateway needs what that client does not
// offer: traffic handed to a callback on the reading goroutine (no buffered
// channel and no extra goroutine per connection: the gateway holds one per
// session), frames of any type sent and answered (custom events and
// requests), and renamed pub/sub frame types.
type LegacyDialer struct {
	Options
}

var _ Dialer = (*LegacyDialer)(nil)

// Protocol returns config.ProtocolLegacy.
func (d *LegacyDialer) Protocol() config.Protocol { return config.ProtocolLegacy }

// Dial connects and waits for the server's welcome frame.
func (d *LegacyDialer) Dial(ctx context.Context, h Handler) (Conn, error) {
	o := d.Options.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	// The gateway holds one per session, so by default the connection is
	// a wsconn.Client (no buffer kept while idle).
	ws, err := wsconn.DialVia(ctx, o.URL, o.HTTPClient, wsconn.ClientOptions{Header: o.Header, ReadLimit: o.MaxMessageBytes})
	if err != nil {
		return nil, fmt.Errorf("upstream: dial legacy %s: %w", redactURL(o.URL), err)
	}
	f, err := readLegacy(ctx, ws, nil)
	if err == nil && f.Type != legacy.TypeWelcome {
		err = fmt.Errorf("%w: first frame is %q, want welcome", ErrProtocol, f.Type)
	}
	if err != nil {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("upstream: handshake with %s: %w", redactURL(o.URL), err)
	}
	c := &legacyConn{ws: ws, h: h, names: newLegacyNames(o.Mapping), timeout: o.RequestTimeout, done: make(chan struct{}),
		maxWrite: o.MaxWriteBytes, pingInterval: o.PingInterval, pingTimeout: o.PingTimeout}
	c.park, _ = ws.(wsconn.Parker)
	c.expire = expiry.New(c.sweep)
	c.beatAt = time.Now().Add(c.pingInterval)
	c.expire.Arm(c.beatAt)
	go c.readLoop()
	return c, nil
}

// framePool holds the buffers PublishAsync encodes its request into: the
// write copies the frame, so the buffer is free again once it returns.
var framePool = bufpool.New(512, 64<<10)

type legacyConn struct {
	ws      wsconn.Conn
	park    wsconn.Parker // ws, when its reader can park; nil otherwise
	renew   wsconn.Renewal
	dec     legacy.Decoder // the reader's: its channel names
	h       Handler
	names   *legacyNames
	timeout time.Duration // for PublishAsync's answers (Options.RequestTimeout)
	// maxWrite bounds a frame written (Options.MaxWriteBytes); 0: none.
	maxWrite int64
	done     chan struct{} // closed when the read loop has ended

	nextID  atomic.Uint64
	closing atomic.Bool // Close was called: the end is not an error

	// The heartbeat (beatLocked): the reader notes that the backend sent
	// something (a burst of frames, or a pong), and the sweep that comes
	// due at beatAt pings a backend silent for pingInterval, with a
	// WebSocket Ping, and ends the connection of one still silent
	// pingTimeout after its ping.
	heard                     atomic.Bool
	pingInterval, pingTimeout time.Duration

	mu      sync.Mutex
	pending map[uint64]*waiter // request id -> who waits for its answer
	// expire gives up PublishAsync's answers and runs the heartbeat: the
	// connection's one timer.
	expire *expiry.Sweeper
	beatAt time.Time // the heartbeat's next look; zero once it failed
	pinged bool      // a ping is out, and nothing came since
	pongs  uint32    // ws's pong count at the last look (wsconn.Pinger)
	silent error     // why the heartbeat ended the connection
	ended  bool      // the reader has failed what was pending: no more
	err    error
}

// waiter is a request waiting for its answer: a caller blocked on reply
// (cap 1), or a PublishAsync's then, given up at due.
type waiter struct {
	reply chan legacy.Frame
	then  func(seq uint64, err error)
	due   time.Time
	// pubsub: a subscribe, unsubscribe or publish, answered only by an
	// ack or an error frame.
	pubsub bool
}

// readLegacy reads and decodes the next frame, in a buffer of its own.
func readLegacy(ctx context.Context, ws wsconn.Conn, dec *legacy.Decoder) (legacy.Frame, error) {
	typ, data, err := ws.Read(ctx)
	return decodeLegacy(dec, typ, data, err)
}

// next reads the read loop's next frame, in place when the connection can
// lend it: its bytes are then valid until the next read (see
// Handler.HandleEvent).
func (c *legacyConn) next() (legacy.Frame, error) {
	typ, data, err := wsconn.ReadLent(context.Background(), c.ws)
	return decodeLegacy(&c.dec, typ, data, err)
}

// decodeLegacy decodes what a read returned; f's bytes are data's.
func decodeLegacy(dec *legacy.Decoder, typ websocket.MessageType, data []byte, err error) (legacy.Frame, error) {
	if err != nil {
		return legacy.Frame{}, err
	}
	if typ != websocket.MessageText {
		return legacy.Frame{}, fmt.Errorf("%w: binary frame", ErrProtocol)
	}
	f, err := dec.Decode(data)
	if err != nil {
		if f.Type == legacy.TypeMessage && missingSeq(err) {
			// The protocol requires seq, but a backend that gives none
			// is served all the same (unsequenced, Seq 0): see Event.
			if ev, perr := parseMessage(data); perr == nil && ev.Data != nil {
				return legacy.Frame{Type: legacy.TypeMessage, Channel: ev.Channel, Data: ev.Data, Raw: data}, nil
			}
		}
		return legacy.Frame{}, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return f, nil
}

// missingSeq reports whether err, a decode error, is a frame's missing
// seq. A function of its own: the variable errors.As fills goes to the
// heap, and the relay path must not pay for it on every frame.
func missingSeq(err error) bool {
	var fe *legacy.FieldError
	return errors.As(err, &fe) && fe.Field == "seq" && errors.Is(err, legacy.ErrMissingField)
}

// readLoop is the connection's only reader; it ends when the connection
// does, then fails waiting requests and tells the handler.
//
// An idle connection costs little when ws can park: once the buffered
// frames are handled, the reader waits for the next byte on a short call
// chain, and now and then (wsconn.Renewal) a fresh goroutine takes over
// to wait, so the stack that reading and delivering grew is released.
// The frames are read and handled in readBurst, not here: the frame of
// the function that parks is on the stack of every idle connection, and
// one holding a decoded frame pushed the wait's chain past the smallest
// stack (2 KiB) to the next size.
func (c *legacyConn) readLoop() {
	for {
		if c.park != nil && !c.park.Buffered() {
			c.park.Wait()
		}
		if err := c.readBurst(); err != nil {
			c.end(err)
			return
		}
		if c.park != nil && c.renew.Due() {
			go c.readLoop()
			return
		}
	}
}

// maxBurst bounds the frames a reader hands over between two Flushes. A
// backend that sends faster than the reader handles (a replay of a long
// history) keeps frames buffered for as long as it sends; the handler may
// hold the reader in Flush until its client has taken what it was given
// (session.Pacer), and can do so only if Flush comes now and then.
const maxBurst = 64

// readBurst handles frames until none is buffered (or, when ws cannot
// park, just one), or maxBurst were, then flushes the handler.
func (c *legacyConn) readBurst() error {
	for n := 1; ; n++ {
		f, err := c.next()
		if err != nil {
			return err
		}
		if err := c.dispatch(f); err != nil {
			return err
		}
		if c.park == nil || !c.park.Buffered() || n == maxBurst {
			break // the next frame is not read yet: flush before waiting
		}
	}
	c.heard.Store(true) // for the heartbeat: once a burst, not a frame
	c.h.Flush()
	return nil
}

// end is the reader's last act: see readLoop.
func (c *legacyConn) end(err error) {
	_ = c.ws.CloseNow()
	c.mu.Lock()
	if c.silent != nil {
		err = c.silent // the heartbeat cut the connection: say why
	}
	if c.closing.Load() {
		err = nil
	}
	c.err = err
	c.ended = true
	var async []*waiter
	for id, w := range c.pending {
		if w.then != nil {
			async = append(async, w)
			delete(c.pending, id)
		}
	}
	if c.expire != nil {
		c.expire.Stop()
	}
	c.mu.Unlock()
	// Waiting callers see done; PublishAsync's replies are owed an end.
	for _, w := range async {
		w.then(0, closedErr(err))
	}
	if len(async) > 0 {
		c.h.Flush()
	}
	// The handler runs before done is closed so that Close, which waits for
	// done, also waits for it.
	c.h.HandleClose(err)
	close(c.done)
}

// dispatch hands f over; a frame of the mapping's message type that is no
// channel message is an error (ErrProtocol), which ends the connection.
func (c *legacyConn) dispatch(f legacy.Frame) error {
	switch {
	case f.Type == c.names.Message:
		ev, ok := legacyMessage(f)
		if !ok {
			return messageErr(f)
		}
		c.h.HandleEvent(ev)
		return nil
	case f.ID > 0 && c.answer(f):
		return nil
	case f.Type == legacy.TypeError && f.Code == legacy.CodeSubscriptionLost && f.Channel != "":
		c.h.HandleEvent(Event{Kind: KindLost, Channel: f.Channel})
		return nil
	case f.Type == legacy.TypeWelcome, f.Type == legacy.TypeAck, f.Type == legacy.TypePong,
		f.Type == legacy.TypeError && f.ID > 0:
		// A late answer to an abandoned request (its id is ours: passed
		// on, a client would take it for the answer to a request of its
		// own), or a repeated welcome.
		return nil
	}
	c.h.HandleEvent(Event{Kind: KindEvent, Name: f.Type, Args: [][]byte{f.Raw}})
	return nil
}

// legacyMessage reads a message frame, also one renamed by the mapping
// (which the codec keeps whole, as an unknown type, and which must then
// pass the codec's checks here: channel and data present, seq, if any, an
// unsigned integer).
func legacyMessage(f legacy.Frame) (Event, bool) {
	if f.Type == legacy.TypeMessage {
		return Event{Kind: KindMessage, Channel: f.Channel, Seq: f.Seq, Data: f.Data}, true
	}
	ev, err := parseMessage(f.Raw)
	return ev, err == nil && ev.Data != nil
}

// messageErr says why legacyMessage refused f.
func messageErr(f legacy.Frame) error {
	if _, err := parseMessage(f.Raw); err != nil {
		return err
	}
	return fmt.Errorf("%w: message without data", ErrProtocol)
}

// parseMessage reads {"channel":C,"seq":N,"data":D}: the message payload of
// both protocols. seq may be absent (an unsequenced message).
func parseMessage(b []byte) (Event, error) {
	var v struct {
		Channel *string         `json:"channel"`
		Seq     uint64          `json:"seq"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return Event{}, fmt.Errorf("%w: message: %w", ErrProtocol, err)
	}
	if v.Channel == nil || *v.Channel == "" {
		return Event{}, fmt.Errorf("%w: message without channel", ErrProtocol)
	}
	return Event{Kind: KindMessage, Channel: *v.Channel, Seq: v.Seq, Data: v.Data}, nil
}

// answer hands f to the request waiting for its id, if any.
func (c *legacyConn) answer(f legacy.Frame) bool {
	c.mu.Lock()
	w, ok := c.pending[f.ID]
	delete(c.pending, f.ID)
	if ok && w.pubsub && f.Type != legacy.TypeAck && f.Type != legacy.TypeError {
		c.pending[f.ID], ok = w, false // not an answer to a pub/sub request: an event
	}
	c.mu.Unlock()
	switch {
	case !ok:
	case w.then != nil:
		w.then(publishAnswer(f, nil)) // the reader flushes once its buffer is empty
	default:
		// The caller reads f after the reader has moved on.
		f.Raw, f.Data = bytes.Clone(f.Raw), bytes.Clone(f.Data)
		w.reply <- f // buffered 1, sole sender now that the entry is gone
	}
	return ok
}

// withdraw takes back the entry of a request that gave up, unless its
// answer has taken it first.
func (c *legacyConn) withdraw(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pending[id]
	delete(c.pending, id)
	return ok
}

// register adds w under a fresh id, unless the reader has ended.
func (c *legacyConn) register(w *waiter) (uint64, error) {
	id := c.nextID.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || isDone(c.done) {
		return 0, closedErr(c.err)
	}
	if c.pending == nil {
		c.pending = make(map[uint64]*waiter)
	}
	c.pending[id] = w
	if w.then != nil {
		c.expire.Arm(w.due)
	}
	return id, nil
}

// request sends the frame built for a fresh id and waits for its answer.
func (c *legacyConn) request(ctx context.Context, build func(id uint64) ([]byte, error)) (legacy.Frame, error) {
	return c.requestAs(ctx, false, build)
}

func (c *legacyConn) requestAs(ctx context.Context, pubsub bool, build func(id uint64) ([]byte, error)) (legacy.Frame, error) {
	w := &waiter{reply: make(chan legacy.Frame, 1), pubsub: pubsub}
	id, err := c.register(w)
	if err != nil {
		return legacy.Frame{}, err
	}
	defer c.withdraw(id)
	b, err := build(id)
	if err != nil {
		return legacy.Frame{}, err
	}
	if err := c.write(ctx, b); err != nil {
		return legacy.Frame{}, err
	}
	var f legacy.Frame
	select {
	case f = <-w.reply:
	case <-c.done:
		select {
		case f = <-w.reply: // answered before the end: select picked at random
		default:
			return legacy.Frame{}, closedErr(c.Err())
		}
	case <-ctx.Done():
		return legacy.Frame{}, ctx.Err()
	}
	if f.Type == legacy.TypeError {
		return f, &RemoteError{Code: f.Code, Message: f.Message, Channel: f.Channel}
	}
	return f, nil
}

// write sends one frame. A write canceled half-way closes the connection
// (websocket semantics): a partial frame cannot be taken back. A frame
// over the backend's limit is not sent: the backend would end the
// connection on it.
func (c *legacyConn) write(ctx context.Context, b []byte) error {
	if c.maxWrite > 0 && int64(len(b)) > c.maxWrite {
		return tooLarge(int64(len(b)), c.maxWrite)
	}
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return closedErr(err)
	}
	return nil
}

func (c *legacyConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (Position, error) {
	ack, err := c.requestAs(ctx, true, func(id uint64) ([]byte, error) {
		return c.names.encode(legacy.Frame{Type: legacy.TypeSubscribe, ID: id, Channel: channel, Since: since, HasSince: hasSince}), nil
	})
	if err != nil {
		return Position{}, err
	}
	return Position{Seq: ack.Seq, HasSeq: ack.HasSeq}, nil
}

func (c *legacyConn) Unsubscribe(ctx context.Context, channel string) error {
	_, err := c.requestAs(ctx, true, func(id uint64) ([]byte, error) {
		return c.names.encode(legacy.Frame{Type: legacy.TypeUnsubscribe, ID: id, Channel: channel}), nil
	})
	return err
}

func (c *legacyConn) Publish(ctx context.Context, channel string, data []byte) (uint64, error) {
	if !json.Valid(data) {
		return 0, fmt.Errorf("%w: publish data is not one JSON value", ErrInvalidArgs)
	}
	ack, err := c.requestAs(ctx, true, func(id uint64) ([]byte, error) {
		return c.names.encode(legacy.Frame{Type: legacy.TypePublish, ID: id, Channel: channel, Data: data}), nil
	})
	if err != nil {
		return 0, err
	}
	return publishAnswer(ack, nil)
}

func (c *legacyConn) PublishAsync(ctx context.Context, channel string, data []byte, reply func(uint64, error)) error {
	if !json.Valid(data) {
		return fmt.Errorf("%w: publish data is not one JSON value", ErrInvalidArgs)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	id, err := c.register(&waiter{then: reply, due: expiry.Due(ctx, c.timeout), pubsub: true})
	if err != nil {
		return err
	}
	bp := framePool.Get()
	*bp = c.names.append(*bp, legacy.Frame{Type: legacy.TypePublish, ID: id, Channel: channel, Data: data})
	err = c.write(ctx, *bp)
	framePool.Put(bp)
	if err != nil && c.withdraw(id) {
		return err
	}
	return nil // an answer, the timeout or the reader's end replies
}

// publishAnswer reads a publish request's answer, or passes err on.
func publishAnswer(f legacy.Frame, err error) (uint64, error) {
	switch {
	case err != nil:
		return 0, err
	case f.Type == legacy.TypeError:
		return 0, &RemoteError{Code: f.Code, Message: f.Message, Channel: f.Channel}
	case !f.HasSeq:
		return 0, fmt.Errorf("%w: publish ack without seq", ErrBadReply)
	}
	return f.Seq, nil
}

// Request sends the custom frame and returns its answer, whole, as the one
// reply argument.
func (c *legacyConn) Request(ctx context.Context, event string, args [][]byte) ([][]byte, error) {
	f, err := c.request(ctx, func(id uint64) ([]byte, error) { return AppendLegacyFrame(nil, event, id, args) })
	if err != nil {
		return nil, err
	}
	return [][]byte{f.Raw}, nil
}

func (c *legacyConn) Emit(ctx context.Context, event string, args [][]byte) error {
	b, err := AppendLegacyFrame(nil, event, 0, args)
	if err != nil {
		return err
	}
	if isDone(c.done) {
		return closedErr(c.Err())
	}
	return c.write(ctx, b)
}

// Close ends the connection with a normal closure (1000) and waits for the
// read loop. Closing a connection that has already ended is not an error.
func (c *legacyConn) Close() error {
	c.closing.Store(true)
	_ = c.ws.Close(websocket.StatusNormalClosure, "") // fails only if it had ended
	<-c.done
	return nil
}

func (c *legacyConn) Done() <-chan struct{} { return c.done }

func (c *legacyConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
