package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/bufpool"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
	"github.com/baton-rt/baton/internal/wsconn"
)

// Close codes sent to legacy clients (docs/protocols/legacy.md, "Closing").
const (
	closeShutdown  = websocket.StatusGoingAway       // 1001 "shutting_down"
	closeSlow      = websocket.StatusPolicyViolation // 1008 "slow_consumer"
	closeNoBackend = websocket.StatusInternalError   // 1011 "no_backend"
	reasonShutdown = legacy.ReasonShutdown
	reasonNoBack   = "no_backend"
)

// msgOverhead approximates a message frame's envelope, for the byte bound.
const msgOverhead = 64

// messageSize is what a channel message with data counts against the
// queue's byte bound, on either edge.
func messageSize(channel string, data []byte) int { return len(data) + len(channel) + msgOverhead }

// legacyConn is one legacy client. After the upgrade ServeHTTP returns; a
// reader goroutine handles requests in order and parks on a short stack
// between them, and a write loop runs only while something is queued, on
// a pooled goroutine (see legacy_writer.go). It is the session's Sink.
type legacyConn struct {
	srv  *Server
	id   string
	sess *session.Session
	box  *outbox

	renew wsconn.Renewal // the reader's
	// handling is set while the reader handles a client's frame, during
	// which it reads nothing: the heartbeat does not judge the client
	// then (see legacy_heartbeat.go).
	handling atomic.Bool
	// asking is set while the reader waits for a backend's answer to one
	// of the client's requests (see writeLoop's first yield); a publish's
	// answer is queued by the backend's reader instead.
	asking atomic.Bool
	// publishing holds a token per publish awaiting its answer (reader's).
	publishing chan struct{}
	stop       context.Context // canceled by closeWith: ends waiting requests
	stopNow    context.CancelFunc
	writers    sync.WaitGroup // the write loop, while one runs

	mu   sync.Mutex
	ws   *websocket.Conn // set once upgraded
	link *wsconn.Link
	// serving is set when the reader starts; no writer starts before.
	serving bool
	// out is the outbound queue, bounded by Edge.OutboundQueue (nil when
	// empty): a pooled batch that the writer takes whole and hands back.
	out   *outBatch
	bytes int
	// writing is set while a write loop runs (and stays set after one
	// that closed the connection or failed, so none starts again).
	writing bool
	// taken, while the reader waits in awaitWriter, is closed (and reset)
	// when a writer next takes the queue; writerStuck is set when the
	// writers wrote nothing for collectWait, until one takes it.
	taken       chan struct{}
	writerStuck bool
	ended       bool // the reader has finished: nothing more is written
	closing     bool
	closeCode   websocket.StatusCode
	closeReason string
	closeFlush  bool
	// pingDue asks the writer for a heartbeat ping with its next batch,
	// past the queue's bounds (see legacy_heartbeat.go).
	pingDue bool
	hb      heartbeat
}

var _ session.Pacer = (*legacyConn)(nil)

func (s *Server) newLegacyConn() *legacyConn {
	stop, cancel := context.WithCancel(context.Background())
	c := &legacyConn{
		srv:     s,
		id:      rand.Text(),
		stop:    stop,
		stopNow: cancel,
	}
	c.box = newOutbox(s.opts.Edge.OutboundQueue, c.push, c.overflow)
	return c
}

// serveLegacy identifies the client, attaches its session, upgrades and
// serves it until it goes away.
func (s *Server) serveLegacy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	held := false
	defer func() {
		if !held {
			s.wg.Done()
		}
	}()

	// The Origin is checked before the attach, which dials a backend.
	if !s.originOK(w, r) {
		return
	}
	// So is the request's being an upgrade at all: websocket.Accept
	// would refuse a plain GET only after a backend had taken it.
	if code, why := notUpgrade(r); code != 0 {
		if code == http.StatusUpgradeRequired {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
		}
		httpError(w, code, why)
		return
	}
	user, err := s.id.User(r.Header, r.URL.Query(), "")
	if err != nil {
		s.unauthorized.Add(1)
		httpError(w, http.StatusUnauthorized, err.Error())
		return
	}
	c := s.newLegacyConn()
	c.send(legacy.Frame{Type: legacy.TypeWelcome, Session: c.id})
	actx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	sess, err := s.g.Attach(actx, gateway.Identity{ID: c.id, User: user, Protocol: config.ProtocolLegacy}, c)
	cancel()
	if err != nil {
		s.attachFailed.Add(1)
		s.log.Warn("edge: attach failed", "user", user, "err", err)
		httpError(w, http.StatusServiceUnavailable, "no backend: "+err.Error())
		return
	}
	c.sess = sess
	// The welcome is queued: the 101 goes out with it.
	hw := &wsconn.Response{ResponseWriter: w, Timeout: s.opts.WriteTimeout, HoldHeader: true}
	// Accept applies the same Origin rule again; it cannot refuse what
	// originOK let through.
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{OriginPatterns: s.opts.Edge.OriginPatterns})
	if err != nil {
		s.g.Detach(sess)
		return // Accept has answered
	}
	ws.SetReadLimit(int64(s.opts.Edge.MaxMessageBytes))
	c.mu.Lock()
	c.ws, c.link = ws, hw.Link // before Shutdown can see c
	c.mu.Unlock()

	s.mu.Lock()
	if s.draining { // Shutdown began during the upgrade
		s.mu.Unlock()
		s.g.Detach(sess)
		c.closeHandshake(closeShutdown, reasonShutdown) // bounded: Shutdown waits for it
		return
	}
	s.legacy[c] = struct{}{}
	s.mu.Unlock()
	s.accepted.Add(1)

	// The connection is served off the handler (s.wg's count passes to
	// its reader), so that the request, net/http's connection state and
	// the handler's stack are not kept for its life.
	held = true
	c.mu.Lock()
	c.serving = true
	c.startWriterLocked() // the welcome is queued
	c.mu.Unlock()
	c.startHeartbeat()
	go c.readLoop()
}

// readLoop handles the client's frames in order until the connection
// ends. An idle connection costs little: once the buffered frames are
// handled, the reader parks in Link.Wait on a short call chain, and now
// and then (wsconn.Renewal) a fresh goroutine takes over to park, so the
// stack that reading and the requests grew is released.
//
// Reads get a context that is never done: canceling one would cut the
// connection before a close handshake.
func (c *legacyConn) readLoop() {
	if !c.link.Buffered() {
		c.link.Wait()
	}
	for {
		bp := readPool.Get()
		typ, data, err := readFrame(c.ws, bp)
		if err != nil {
			readPool.Put(bp)
			if errors.Is(err, websocket.ErrMessageTooBig) {
				c.srv.tooLarge.Add(1) // the library has closed with 1009
			}
			c.srv.log.Debug("edge: legacy connection ended", "session", c.id, "err", err)
			c.finish()
			return
		}
		c.handling.Store(true)
		c.handle(typ, data)
		readPool.Put(bp)
		c.awaitWriter()
		c.handling.Store(false)
		if !c.link.Buffered() {
			if c.renew.Due() {
				go c.readLoop()
				return
			}
			c.link.Wait()
		}
	}
}

// readPool holds the buffers readers read a client's frame into: a frame
// is handled before the next is read, and nothing keeps it after (what is
// sent on is encoded anew), so one buffer serves frame after frame instead
// of an allocation each. One past 64 KiB is not kept.
var readPool = bufpool.New(1024, 64<<10)

// readFrame reads one client frame into *bp, growing it as needed; the
// read limit is the websocket.Conn's.
func readFrame(ws *websocket.Conn, bp *[]byte) (websocket.MessageType, []byte, error) {
	typ, r, err := ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		*bp = b
		switch {
		case err == io.EOF:
			return typ, b, nil
		case err != nil:
			return 0, nil, err
		}
	}
}

// finish ends the connection once its reader has: the session is given
// up, the writer (if one runs) finishes, and the socket is closed.
func (c *legacyConn) finish() {
	c.stopNow()
	c.srv.g.Detach(c.sess)
	c.mu.Lock()
	c.ended = true
	c.stopHeartbeatLocked()
	putBatch(c.out)
	c.out, c.bytes = nil, 0
	c.mu.Unlock()
	c.writers.Wait()
	_ = c.ws.CloseNow()
	s := c.srv
	s.mu.Lock()
	delete(s.legacy, c)
	s.mu.Unlock()
	s.wg.Done()
}

// handle answers one client frame. A bad frame gets an error frame; the
// connection stays up.
func (c *legacyConn) handle(typ websocket.MessageType, data []byte) {
	var f legacy.Frame
	err := errBinaryFrame
	if typ == websocket.MessageText {
		f, err = legacy.Decode(data)
	}
	if err == nil && f.Type == legacy.TypePublish {
		c.publish(f)
		return
	}
	c.awaitPublishes()
	if err != nil {
		c.fail(f.ID, replyError{legacy.CodeBadRequest, err.Error()}, "")
		return
	}
	ctx, cancel := context.WithTimeout(c.stop, c.srv.opts.RequestTimeout)
	defer cancel()
	c.asking.Store(true)
	defer c.asking.Store(false)
	switch f.Type {
	case legacy.TypeSubscribe:
		c.subscribe(ctx, f)
	case legacy.TypeUnsubscribe:
		// Idempotent, as on the reference service: the session stops the
		// channel's messages whatever the backend answers. A name no
		// channel can have is refused, as there; and so is an unsubscribe
		// that did not happen, as the messages keep coming.
		if err := broker.ValidChannel(f.Channel); err != nil {
			c.fail(f.ID, replyError{legacy.CodeInvalidChannel, err.Error()}, f.Channel)
			return
		}
		if err := c.sess.Unsubscribe(ctx, f.Channel); errors.Is(err, session.ErrStillSubscribed) {
			c.fail(f.ID, toReply(err), f.Channel)
			return
		}
		c.box.unsubscribed(f.Channel)
		c.send(legacy.Frame{Type: legacy.TypeAck, ID: f.ID})
	case legacy.TypePing:
		c.send(legacy.Frame{Type: legacy.TypePong, ID: f.ID})
	case legacy.TypeWelcome, legacy.TypeAck, legacy.TypeMessage, legacy.TypePong, legacy.TypeError:
		c.fail(f.ID, replyError{legacy.CodeBadRequest, fmt.Sprintf("frame type %q is sent by servers only", f.Type)}, "")
	default:
		c.custom(ctx, f, data)
	}
}

// errBinaryFrame answers a binary message: the protocol is JSON text.
var errBinaryFrame = errors.New("binary frames are not supported")

// publishesInFlight bounds a client's publishes awaiting their answers:
// the reader reads no further frame while that many are out, and their
// answers fit in the queue's answerSlack.
const publishesInFlight = answerSlack

// publish forwards a publish request without waiting for its answer, so
// that the answer can go out from the backend connection's reader (see
// session.PublishAsync) and this reader meanwhile waits on the client's
// socket, to be woken by the next frame rather than by another goroutine.
func (c *legacyConn) publish(f legacy.Frame) {
	if c.publishing == nil {
		c.publishing = make(chan struct{}, publishesInFlight)
	}
	own := c.box.notePublish(f.Channel, messageSize(f.Channel, f.Data), c.srv.opts.Edge.OutboundQueue, c.queueLen, c.catchUpOwn)
	select {
	case c.publishing <- struct{}{}:
	case <-c.stop.Done():
		c.fail(f.ID, toReply(c.stop.Err()), f.Channel)
		return
	}
	// No context of its own: the backend connection bounds the wait for
	// the answer (upstream.Options.RequestTimeout), and a request costs no
	// timer.
	id, channel := f.ID, f.Channel // f's bytes are the reader's, reused
	err := c.sess.PublishAsync(c.stop, f.Channel, f.Data, func(seq uint64, err error) {
		answer := legacy.Frame{Type: legacy.TypeAck, ID: id, Seq: seq, HasSeq: true}
		if err != nil {
			answer = c.errorFrame(id, toReply(err), channel)
		}
		c.box.mu.Lock()
		if err == nil {
			c.box.ownAnsweredLocked(own, channel, seq)
		}
		_ = c.enqueueAnswer(legacy.Append(nil, answer), false) // the reply's Flush writes it
		c.box.mu.Unlock()
		<-c.publishing // once queued: see awaitPublishes
	})
	if err != nil {
		<-c.publishing
		c.awaitPublishes()
		c.fail(id, toReply(err), channel)
	}
}

// awaitPublishes waits until the answer of every publish in flight is
// queued, so that the answer to what the client asked next goes out after
// theirs: answers come in request order (docs/protocols/legacy.md), and a
// publish is answered from the backend connection's reader while this one
// reads on. It gives up when the connection stops.
func (c *legacyConn) awaitPublishes() { awaitTokens(c.publishing, c.stop.Done()) }

// catchUpOwn waits for the publishes in flight and the messages they and
// those before them bring on channels the session holds (see own.go).
func (c *legacyConn) catchUpOwn() {
	c.awaitPublishes()
	c.box.awaitOwn(c.stop, c.sess.Subscribed)
}

// queueLen is the queue's length, in frames and bytes.
func (c *legacyConn) queueLen() (frames, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued(), c.bytes
}

func (c *legacyConn) subscribe(ctx context.Context, f legacy.Frame) {
	c.box.begin(f.Channel)
	pos, err := c.box.subscribe(ctx, c.sess, f.Channel, f.Since, f.HasSince)
	c.box.end(f.Channel, keepsHeld(err), replayTo(err, f.Since, f.HasSince, pos), func() {
		if err != nil {
			c.failLocked(f.ID, toReply(err), f.Channel)
			return
		}
		c.sendLocked(legacy.Frame{Type: legacy.TypeAck, ID: f.ID, Seq: pos.Seq, HasSeq: pos.HasSeq})
	})
	c.Flush() // the messages held for the ack were queued after it, for Flush
}

// custom forwards a frame of a type the protocol does not define as a
// custom event named by its type, carrying the whole frame. With an id it
// is a request: the reply comes back with the client's id.
func (c *legacyConn) custom(ctx context.Context, f legacy.Frame, data []byte) {
	args := [][]byte{data}
	if f.ID == 0 {
		if err := c.sess.Emit(ctx, f.Type, args); err != nil {
			c.fail(0, toReply(err), "")
		}
		return
	}
	reply, err := c.sess.Request(ctx, f.Type, args)
	if err != nil {
		c.fail(f.ID, toReply(err), "")
		return
	}
	// A legacy backend answers with a frame (its type kept); a Socket.IO
	// backend with ack arguments, which become an "ack" frame.
	typ := legacy.TypeAck
	if len(reply) == 1 {
		if rf, err := legacy.Decode(reply[0]); err == nil && rf.Type != "" {
			typ = rf.Type
		}
	}
	frame, err := upstream.AppendLegacyFrame(nil, typ, f.ID, reply)
	if err != nil {
		c.fail(f.ID, toReply(err), "")
		return
	}
	c.pushFrame(frame)
}

// Deliver implements session.Sink: it queues ev without blocking.
func (c *legacyConn) Deliver(ev upstream.Event) error { return c.box.deliver(ev) }

// Pace implements session.Pacer: during a replay (see outbox.pace) a
// backend connection's reader waits as the client's own reader does for
// its requests (see awaitWriter).
func (c *legacyConn) Pace() {
	if c.box.pace() {
		c.awaitWriter()
	}
}

// Behind implements session.Pacer: the client is behind by the measures
// Pace waits on (the messages held for its subscribes, its queue), even
// when no replay runs and Pace would not wait: the stall watchdog then
// only waits longer.
func (c *legacyConn) Behind() bool {
	if c.box.heldOverHalf() {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mustWaitLocked()
}

// Close implements session.Sink: the gateway gave the session up.
func (c *legacyConn) Close(reason error) {
	if errors.Is(reason, gateway.ErrClosed) {
		c.closeWith(closeShutdown, reasonShutdown, true)
		return
	}
	c.closeWith(closeNoBackend, reasonNoBack, true)
}

// httpError answers a refused request with {"error":msg}.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b := append([]byte(`{"error":`), jsonQuote(msg)...)
	_, _ = w.Write(append(b, "}\n"...))
}

// notUpgrade says why r is no WebSocket upgrade, with the status that
// answers it (websocket.Accept's), or 0 when it is one.
func notUpgrade(r *http.Request) (int, string) {
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "a WebSocket upgrade is a GET"
	case !wsconn.HeaderHasToken(r.Header, "Connection", "upgrade"), !wsconn.HeaderHasToken(r.Header, "Upgrade", "websocket"):
		return http.StatusUpgradeRequired, "this endpoint speaks WebSocket only: send Connection: Upgrade and Upgrade: websocket"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusBadRequest, "unsupported Sec-WebSocket-Version: want 13"
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return http.StatusBadRequest, "missing Sec-WebSocket-Key"
	}
	return 0, ""
}
