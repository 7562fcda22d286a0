package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wire/legacy"
	"github.com/baton-rt/baton/internal/wire/socketio"
)

// errSlowConsumer closes a Socket.IO client whose held messages overflowed.
var errSlowConsumer = errors.New("edge: slow consumer")

// errNoBackend closes a Socket.IO client whose session no backend took
// when it connected.
var errNoBackend = errors.New("edge: no backend available")

// errSubscriptionLost closes a Socket.IO client whose subscription the
// session could not restore: Socket.IO has no event for it (as with the
// reference service, the client reconnects and subscribes with since).
var errSubscriptionLost = errors.New("edge: subscription lost")

// sioConn is one Socket.IO client on the main namespace; it is the
// session's Sink. Its requests run on the connection's reader, in order.
type sioConn struct {
	srv  *Server
	so   *sio.Socket
	sess *session.Session
	box  *outbox
	// publishing bounds the publishes awaiting their answers (see
	// publish); made by the first, used by the handlers, which never run
	// at once.
	publishing chan struct{}
	// asking counts the backend's events awaiting the client's ack (see
	// ask).
	asking atomic.Int32
}

var _ session.Pacer = (*sioConn)(nil)

// mountSocketIO builds the Socket.IO server with the pub/sub API on "/".
func (s *Server) mountSocketIO() error {
	e := s.opts.Edge
	io, err := sio.NewServer(sio.Config{Engine: eio.Config{
		PingInterval: e.PingInterval,
		PingTimeout:  e.PingTimeout,
		MaxPayload:   e.MaxMessageBytes,
		QueuePackets: e.OutboundQueue.Messages,
		QueueBytes:   e.OutboundQueue.Bytes,
		WriteTimeout: s.opts.WriteTimeout,
		DrainPeriod:  s.opts.DrainPeriod,
		// Polling from another origin is cross-origin XHR: browsers read
		// the answers only with these headers. Credentials are allowed
		// because a browser's WebSocket to an allowed origin sends its
		// cookies too.
		CORS: eio.CORS{AllowOrigin: s.orig.allows, Credentials: true},
	}})
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	s.io = io
	n := io.Of("/")
	n.Use(s.connectSocketIO)
	n.On(config.DefaultEventSubscribe, onConn((*sioConn).subscribe))
	n.On(config.DefaultEventUnsubscribe, onConn((*sioConn).unsubscribe))
	n.On(config.DefaultEventPublish, func(so *sio.Socket, e *sio.Event) {
		if c, _ := so.Value().(*sioConn); c != nil {
			c.publish(e) // its request outlives the handler: no ctx of onConn's
		}
	})
	n.OnAny(onConn((*sioConn).custom))
	return nil
}

// serveSocketIO refuses any request from a foreign Origin with 403
// (handshakes, polls, POSTs and upgrades alike: a polling session's sid is
// no proof of origin), then an Engine.IO handshake without a user key with
// 401 before any session exists. A JWT may still come in the CONNECT auth
// payload, so only a token present and bad is refused here. CORS
// preflights go on to the Engine.IO server, which answers them and names
// only allowed origins; they open no session and never carry the
// identity header they ask leave to send, so they are not identified.
func (s *Server) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		s.io.Handler().ServeHTTP(w, r)
		return
	}
	if !s.originOK(w, r) {
		return
	}
	q := r.URL.Query()
	if q.Get("sid") == "" && !s.isDraining() {
		if !s.id.UsesJWT() || s.id.HasToken(r.Header, q) {
			if _, err := s.id.User(r.Header, q, ""); err != nil {
				s.unauthorized.Add(1)
				s.io.Engine().SetCORSHeaders(w, r) // an allowed origin may read why
				httpError(w, http.StatusUnauthorized, err.Error())
				return
			}
		}
	}
	s.io.Handler().ServeHTTP(w, r)
}

// connectSocketIO is the namespace middleware: identify, then attach. A
// refusal becomes CONNECT_ERROR. The attach dials the backend on the
// connection's reader, bounded by the request timeout.
func (s *Server) connectSocketIO(so *sio.Socket) error {
	var auth struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(so.Auth(), &auth) // a non-object auth carries no token
	req := so.Request()
	user, err := s.id.User(req.Header, req.Query, auth.Token)
	if err != nil {
		s.unauthorized.Add(1)
		return &sio.ConnectError{Message: "unauthorized: " + err.Error()}
	}
	so.Conn().SetAnswers(isAnswer) // acks go past a full queue by a little
	c := &sioConn{srv: s, so: so}
	c.box = newOutbox(s.opts.Edge.OutboundQueue, c.push, c.overflow)
	ctx, cancel := context.WithTimeout(so.Context(), s.opts.RequestTimeout)
	defer cancel()
	sess, err := s.g.Attach(ctx, gateway.Identity{ID: so.ID(), User: user, Protocol: config.ProtocolSocketIO}, c)
	if err != nil {
		s.attachFailed.Add(1)
		s.log.Warn("edge: attach failed", "user", user, "err", err)
		// Not CONNECT_ERROR alone: the official client takes a refused
		// CONNECT as final and never tries again, whereas a closed
		// connection it retries with its backoff, as it would a backend
		// that is down. Once closed, the CONNECT_ERROR is not sent.
		so.Conn().CloseWith(fmt.Errorf("%w: %w", errNoBackend, err))
		return &sio.ConnectError{Message: "no backend available"}
	}
	c.sess = sess
	so.SetValue(c)
	s.accepted.Add(1)
	// The socket's context ends however the socket ends, including a
	// connection closed before the namespace registered it.
	context.AfterFunc(so.Context(), func() { s.g.Detach(sess) })
	return nil
}

// onConn adapts a sioConn method to an event handler.
func onConn(f func(*sioConn, context.Context, *sio.Event)) sio.EventHandler {
	return func(so *sio.Socket, e *sio.Event) {
		c, _ := so.Value().(*sioConn)
		if c == nil {
			return
		}
		ctx, cancel := context.WithTimeout(so.Context(), c.srv.opts.RequestTimeout)
		defer cancel()
		f(c, ctx, e)
	}
}

// parse reads the event's first argument as the reference service does
// (socketio.ReadPubSubRequest); on failure it answers the client and
// returns false. The request's bytes are the event's.
func (c *sioConn) parse(e *sio.Event) (req socketio.PubSubRequest, since uint64, hasSince, ok bool) {
	fail := func(code, msg string) (socketio.PubSubRequest, uint64, bool, bool) {
		c.reply(e, replyError{code, msg})
		return req, 0, false, false
	}
	switch {
	case len(e.Binary) > 0:
		return fail(legacy.CodeBadRequest, "binary attachments are not supported")
	case len(e.Args) == 0:
		return fail(legacy.CodeBadRequest, socketio.ErrNotObject.Error())
	}
	// No table of channel names per connection: its map would cost an
	// idle session more than the name's allocation costs a request.
	req, err := socketio.ReadPubSubRequest(e.Args[0], nil)
	switch {
	case err != nil:
		return fail(legacy.CodeBadRequest, err.Error())
	case !req.HasChannel:
		return fail(legacy.CodeInvalidChannel, `missing field "channel"`)
	}
	if since, hasSince, err = req.ReadSince(); err != nil {
		return fail(legacy.CodeBadSince, err.Error())
	}
	return req, since, hasSince, true
}

func (c *sioConn) subscribe(ctx context.Context, e *sio.Event) {
	req, since, hasSince, ok := c.parse(e)
	if !ok {
		return
	}
	ch := req.Channel
	c.box.begin(ch)
	pos, err := c.box.subscribe(ctx, c.sess, ch, since, hasSince)
	c.box.end(ch, keepsHeld(err), replayTo(err, since, hasSince, pos), func() {
		switch {
		case err != nil:
			c.reply(e, toReply(err))
		case pos.HasSeq:
			c.ack(e, appendOKSeq(nil, pos.Seq))
		default:
			c.ack(e, ackOK)
		}
	})
}

func (c *sioConn) unsubscribe(ctx context.Context, e *sio.Event) {
	req, _, _, ok := c.parse(e)
	if !ok {
		return
	}
	err := c.sess.Unsubscribe(ctx, req.Channel)
	if errors.Is(err, session.ErrStillSubscribed) {
		// Nothing changed: the channel's messages keep coming.
		c.reply(e, toReply(err))
		return
	}
	c.box.unsubscribed(req.Channel)
	if errors.Is(err, session.ErrNotSubscribed) {
		c.reply(e, toReply(err))
		return
	}
	// Any other outcome: the session no longer delivers the channel.
	c.ack(e, ackOK)
}

// publish forwards a publish request without waiting for its answer, as
// the legacy edge does: the ack goes out from the backend connection's
// reader (session.PublishAsync, held for its Flush), and this reader
// meanwhile goes back to the client's socket. At most publishesInFlight
// are out at once; the reader waits for room.
func (c *sioConn) publish(e *sio.Event) {
	req, _, _, ok := c.parse(e)
	if !ok {
		return
	}
	data := req.Data // the event's bytes: PublishAsync writes them before it returns
	if data == nil {
		data = []byte("null") // as the reference service
	}
	if c.publishing == nil {
		c.publishing = make(chan struct{}, publishesInFlight)
	}
	channel := req.Channel
	own := c.box.notePublish(channel, messageSize(channel, data), c.srv.opts.Edge.OutboundQueue, c.so.Conn().Queued, c.catchUpOwn)
	select {
	case c.publishing <- struct{}{}:
	case <-c.so.Context().Done(): // it ends with the connection (sio.Server.OnClosing)
		return // the client is gone: nobody reads the answer
	}
	// As on the legacy edge, the backend connection bounds the wait.
	e.HoldAcks()
	err := c.sess.PublishAsync(c.so.Context(), channel, data, func(seq uint64, err error) {
		if err == nil {
			c.box.mu.Lock()
			c.box.ownAnsweredLocked(own, channel, seq)
			c.box.mu.Unlock()
		}
		<-c.publishing // once recorded: see catchUpOwn
		if err != nil {
			c.reply(e, toReply(err))
			return
		}
		var buf [40]byte // {"ok":true,"seq":N}, copied by the ack
		c.ack(e, appendOKSeq(buf[:0], seq))
	})
	if err != nil {
		<-c.publishing
		c.reply(e, toReply(err))
	}
}

// catchUpOwn waits for the publishes in flight and the messages they and
// those before them bring on channels the session holds (see own.go).
func (c *sioConn) catchUpOwn() {
	stop := c.so.Context()
	awaitTokens(c.publishing, stop.Done())
	c.box.awaitOwn(stop, c.sess.Subscribed)
}

// custom passes any other event to the backend: a request when the
// client wants an ack (the backend's reply becomes the ack's arguments),
// else a plain event.
func (c *sioConn) custom(ctx context.Context, e *sio.Event) {
	if len(e.Binary) > 0 {
		c.reply(e, replyError{legacy.CodeBadRequest, "binary attachments are not supported"})
		return
	}
	if !e.WantsAck() {
		if err := c.sess.Emit(ctx, e.Name, e.Args); err != nil {
			if errors.Is(err, upstream.ErrMessageTooLarge) {
				c.srv.tooLarge.Add(1) // nobody to tell but the count
			}
			c.srv.log.Debug("edge: emit failed", "session", c.so.ID(), "event", e.Name, "err", err)
		}
		return
	}
	reply, err := c.sess.Request(ctx, e.Name, e.Args)
	if err != nil {
		c.reply(e, toReply(err))
		return
	}
	c.ack(e, reply...)
}

var ackOK = []byte(`{"ok":true}`)

// appendOKSeq appends {"ok":true,"seq":N}.
func appendOKSeq(dst []byte, seq uint64) []byte {
	dst = append(dst, `{"ok":true,"seq":`...)
	return append(strconv.AppendUint(dst, seq, 10), '}')
}

func (c *sioConn) ack(e *sio.Event, args ...[]byte) {
	if e.WantsAck() {
		_ = e.Ack(args...)
	}
}

// reply answers e with {"error":"<code>: <message>"} if it wants an ack.
func (c *sioConn) reply(e *sio.Event, r replyError) {
	c.srv.countReply(r)
	if e.WantsAck() {
		_ = e.Ack(append(append([]byte(`{"error":`), jsonQuote(r.code+": "+r.msg)...), '}'))
	}
}

// Deliver implements session.Sink: it queues ev without blocking.
func (c *sioConn) Deliver(ev upstream.Event) error { return c.box.deliver(ev) }

// Flush implements session.Sink: it writes what Deliver queued on the
// calling goroutine, most often the backend connection's reader (see
// eio.Conn.Flush).
func (c *sioConn) Flush() { c.so.Conn().Flush() }

// Pace implements session.Pacer (see outbox.pace, eio.Conn.Pace).
func (c *sioConn) Pace() {
	if c.box.pace() {
		c.so.Conn().Pace()
	}
}

// Behind implements session.Pacer: Pace would wait now, for the
// subscribes whose messages it holds or for the client to take its queue.
func (c *sioConn) Behind() bool { return c.box.heldOverHalf() || c.so.Conn().Behind() }

// Close implements session.Sink: the gateway gave the session up.
func (c *sioConn) Close(reason error) { c.so.Conn().CloseWith(reason) }

// isAnswer says whether an Engine.IO group is a Socket.IO packet that
// answers the client's own request: an ack (the success or the error of a
// subscribe, unsubscribe, publish or custom request) or the answer to a
// CONNECT. Like a legacy client's answers, these are queued past a full
// queue by a little (see eio.Conn.SetAnswers), whatever edge.overflow
// says: dropped, an answer would leave the request hanging, and a full
// queue of messages must not cost the client its acks. Only a client that
// keeps asking without reading gets past that slack, and is closed as a
// slow consumer.
func isAnswer(p engineio.Packet) bool {
	if p.Type != engineio.Message || p.Binary || len(p.Data) == 0 {
		return false
	}
	switch socketio.Type(p.Data[0] - '0') {
	case socketio.Ack, socketio.BinaryAck, socketio.Connect, socketio.ConnectError:
		return true
	}
	return false
}

// push queues one event from the backend on the Engine.IO session's
// bounded queue. What does not fit follows edge.overflow (see errDropped):
// under disconnect the Engine.IO session closes the slow consumer (and
// counts it); under drop_newest a message with a seq is dropped (see
// overflow), while anything else still disconnects, since nothing would
// tell the client it was lost. The outbox's lock is held.
func (c *sioConn) push(ev upstream.Event) error {
	switch ev.Kind {
	case upstream.KindMessage:
		// Encoded as an Engine.IO frame into a pooled buffer, which the
		// session takes, and held for Flush. ev's bytes are only lent.
		frame := eio.FrameBuffer()
		*frame = appendMessageEvent(append((*frame)[:0], byte(engineio.Message)), ev)
		if c.srv.opts.Edge.Overflow != config.OverflowDropNewest || !droppable(ev) {
			return c.so.Conn().SendFrameHeld(frame)
		}
		if err := c.so.Conn().OfferFrameHeld(frame); !errors.Is(err, eio.ErrQueueFull) {
			return err
		}
		return c.overflow(ev)
	case upstream.KindLost:
		// CloseWith only schedules the disconnect handlers.
		c.so.Conn().CloseWith(fmt.Errorf("%w: channel %q: %s", errSubscriptionLost, ev.Channel, lostMessage(ev.Data)))
		return nil
	default:
		if ev.Name == messageEvent {
			// A custom event named like the edge's channel messages (a
			// backend whose mapping renames its message event): the
			// client would take it for one that the seq rule never saw.
			return c.srv.notCarried(c.so.ID(), ev.Name, "edge: event not carried to a Socket.IO client: its name is the channel messages' event")
		}
		// ev's bytes are only lent: the encoding copies the arguments,
		// but the attachments are queued as they are.
		var err error
		if ev.Answer != nil {
			err = c.ask(ev, upstream.CloneAttachments(ev.Binary))
		} else {
			err = c.so.EmitBinary(ev.Name, upstream.CloneAttachments(ev.Binary), ev.Args...)
		}
		if errors.Is(err, sio.ErrReservedEvent) {
			// A legacy backend's frame named like one (nothing was sent).
			return c.srv.notCarried(c.so.ID(), ev.Name, "edge: event not carried to a Socket.IO client: its name is reserved by Socket.IO")
		}
		return err
	}
}

// maxAsking bounds a client's acks awaited for the backend at once.
const maxAsking = 64

// ask emits a backend's event that asks for an acknowledgement, asking the
// client in turn, and passes the client's ack to the backend's callback on
// a goroutine of its own, which waits for at most the request timeout. A
// client already owing maxAsking acks gets the event without the ask
// (counted in asks_not_bridged), so that a backend cannot pile up waits
// on a client that never answers.
func (c *sioConn) ask(ev upstream.Event, bin [][]byte) error {
	if c.asking.Add(1) > maxAsking {
		c.asking.Add(-1)
		c.srv.asksNotBridged.Add(1)
		return c.so.EmitBinary(ev.Name, bin, ev.Args...)
	}
	pending, err := c.so.EmitAsking(ev.Name, bin, ev.Args...)
	if err != nil {
		c.asking.Add(-1)
		return err
	}
	answer, timeout := ev.Answer, c.srv.opts.RequestTimeout
	go func() {
		defer c.asking.Add(-1)
		defer pending.Drop()
		ctx, cancel := context.WithTimeout(c.so.Context(), timeout)
		defer cancel()
		ack, err := pending.Wait(ctx)
		if err != nil {
			return // the backend's own timeout tells it
		}
		// The answer goes out even if the client leaves meanwhile.
		actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer acancel()
		if err := answer(actx, ack.Args, ack.Binary); err != nil {
			if errors.Is(err, upstream.ErrMessageTooLarge) {
				c.srv.tooLarge.Add(1) // not sent: the backend's own timeout tells it
			}
			c.srv.log.Debug("edge: answering the backend's ask", "session", c.sess.ID(), "event", ev.Name, "err", err)
		}
	}()
	return nil
}

// overflow applies edge.overflow to ev, which does not fit in the
// Engine.IO queue (a droppable message under drop_newest; see push) or
// among the messages held for a pending subscribe: drop_newest drops a
// message with a seq, counted, and keeps the client, which sees a gap in
// the channel's seqs; otherwise the client is closed as a slow consumer.
func (c *sioConn) overflow(ev upstream.Event) error {
	if c.srv.opts.Edge.Overflow == config.OverflowDropNewest && droppable(ev) {
		c.srv.dropped.Add(1)
		return errDropped
	}
	if c.so.Conn().CloseWith(errSlowConsumer) { // once: the messages after it overflow too
		c.srv.slow.Add(1)
	}
	return session.ErrQueueFull
}

// messageEventHead starts every message event (see appendMessageEvent).
const messageEventHead = `2["` + messageEvent + `",{"channel":`

// messageEvent is the event a Socket.IO client gets channel messages as.
const messageEvent = "message"

// appendMessageEvent appends the Socket.IO packet (main namespace)
// 2["message",{"channel":C,"seq":N,"data":D}] with D spliced in as is.
func appendMessageEvent(dst []byte, ev upstream.Event) []byte {
	dst = append(dst, messageEventHead...)
	dst = socketio.AppendString(dst, ev.Channel)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, ev.Seq, 10)
	dst = append(dst, `,"data":`...)
	if len(ev.Data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, ev.Data...)
	}
	return append(dst, "}]"...)
}

// jsonQuote returns s as a JSON string.
func jsonQuote(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
