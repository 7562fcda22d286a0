package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
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

// outItem is one queued frame: a channel message, encoded by the writer
// into its reused buffer, or any other frame encoded up front.
type outItem struct {
	msg   upstream.Event
	frame []byte
}

// legacyConn is one legacy client. Its reader runs inline in ServeHTTP and
// handles requests in order; one writer goroutine drains the queue. It is
// the session's Sink.
type legacyConn struct {
	srv  *Server
	id   string
	ws   *websocket.Conn // set before run
	sess *session.Session
	q    *session.Queue[outItem]
	box  *outbox

	stop    context.Context // canceled by closeWith: ends waiting requests
	stopNow context.CancelFunc
	done    chan struct{} // closed when the writer returns

	mu          sync.Mutex
	closing     bool
	closeCode   websocket.StatusCode
	closeReason string
	closeFlush  bool
}

var _ session.Sink = (*legacyConn)(nil)

func (s *Server) newLegacyConn() (*legacyConn, error) {
	lim := s.opts.Edge.OutboundQueue
	q, err := session.NewQueue[outItem](lim.Messages, lim.Bytes)
	if err != nil {
		return nil, err
	}
	stop, cancel := context.WithCancel(context.Background())
	c := &legacyConn{
		srv:     s,
		id:      rand.Text(),
		q:       q,
		stop:    stop,
		stopNow: cancel,
		done:    make(chan struct{}),
	}
	c.box = newOutbox(lim.Messages, c.push, c.overflow)
	return c, nil
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
	defer s.wg.Done()

	user, err := s.id.User(r.Header, r.URL.Query(), "")
	if err != nil {
		s.unauthorized.Add(1)
		httpError(w, http.StatusUnauthorized, err.Error())
		return
	}
	c, err := s.newLegacyConn()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
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
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.opts.Edge.OriginPatterns})
	if err != nil {
		s.g.Detach(sess)
		return // Accept has answered
	}
	c.ws = ws

	s.mu.Lock()
	if s.draining { // Shutdown began during the upgrade
		s.mu.Unlock()
		s.g.Detach(sess)
		_ = ws.Close(closeShutdown, reasonShutdown)
		return
	}
	s.legacy[c] = struct{}{}
	s.mu.Unlock()
	s.accepted.Add(1)

	c.run()

	s.mu.Lock()
	delete(s.legacy, c)
	s.mu.Unlock()
}

// run serves the connection until the client goes away or it is closed.
func (c *legacyConn) run() {
	c.ws.SetReadLimit(int64(c.srv.opts.Edge.MaxMessageBytes))
	go c.writeLoop()
	// The reader's context lives until the reader is done: canceling a
	// Read's context would cut the connection before a close handshake.
	rctx, cancel := context.WithCancel(context.Background())
	for {
		typ, data, err := c.ws.Read(rctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				c.srv.tooLarge.Add(1) // the library has closed with 1009
			}
			c.srv.log.Debug("edge: legacy connection ended", "session", c.id, "err", err)
			break
		}
		c.handle(typ, data)
	}
	cancel()
	c.stopNow()
	c.srv.g.Detach(c.sess)
	c.q.Close()
	<-c.done
	_ = c.ws.CloseNow()
}

// handle answers one client frame. A bad frame gets an error frame; the
// connection stays up.
func (c *legacyConn) handle(typ websocket.MessageType, data []byte) {
	if typ != websocket.MessageText {
		c.fail(0, replyError{legacy.CodeBadRequest, "binary frames are not supported"}, "")
		return
	}
	f, err := legacy.Decode(data)
	if err != nil {
		c.fail(f.ID, replyError{legacy.CodeBadRequest, err.Error()}, "")
		return
	}
	ctx, cancel := context.WithTimeout(c.stop, c.srv.opts.RequestTimeout)
	defer cancel()
	switch f.Type {
	case legacy.TypeSubscribe:
		c.subscribe(ctx, f)
	case legacy.TypeUnsubscribe:
		// Idempotent, as on the reference service: the session stops the
		// channel's messages whatever the backend answers.
		_ = c.sess.Unsubscribe(ctx, f.Channel)
		c.send(legacy.Frame{Type: legacy.TypeAck, ID: f.ID})
	case legacy.TypePublish:
		seq, err := c.sess.Publish(ctx, f.Channel, f.Data)
		if err != nil {
			c.fail(f.ID, toReply(err), f.Channel)
			return
		}
		c.send(legacy.Frame{Type: legacy.TypeAck, ID: f.ID, Seq: seq, HasSeq: true})
	case legacy.TypePing:
		c.send(legacy.Frame{Type: legacy.TypePong, ID: f.ID})
	case legacy.TypeWelcome, legacy.TypeAck, legacy.TypeMessage, legacy.TypePong, legacy.TypeError:
		c.fail(f.ID, replyError{legacy.CodeBadRequest, fmt.Sprintf("frame type %q is sent by servers only", f.Type)}, "")
	default:
		c.custom(ctx, f, data)
	}
}

func (c *legacyConn) subscribe(ctx context.Context, f legacy.Frame) {
	c.box.begin(f.Channel)
	pos, err := c.sess.Subscribe(ctx, f.Channel, f.Since, f.HasSince)
	c.box.end(f.Channel, err == nil, func() {
		if err != nil {
			c.failLocked(f.ID, toReply(err), f.Channel)
			return
		}
		c.sendLocked(legacy.Frame{Type: legacy.TypeAck, ID: f.ID, Seq: pos.Seq, HasSeq: pos.HasSeq})
	})
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

// Close implements session.Sink: the gateway gave the session up.
func (c *legacyConn) Close(reason error) {
	if errors.Is(reason, gateway.ErrClosed) {
		c.closeWith(closeShutdown, reasonShutdown, true)
		return
	}
	c.closeWith(closeNoBackend, reasonNoBack, true)
}

// push queues one event from the backend; the outbox's lock is held.
func (c *legacyConn) push(ev upstream.Event) error {
	switch ev.Kind {
	case upstream.KindMessage:
		return c.enqueue(outItem{msg: ev}, len(ev.Data)+len(ev.Channel)+msgOverhead)
	case upstream.KindLost:
		c.srv.errReplies.Add(1)
		return c.enqueueFrame(legacy.Append(nil, legacy.Frame{
			Type: legacy.TypeError, Code: legacy.CodeSubscriptionLost, Message: lostMessage(ev.Data), Channel: ev.Channel,
		}))
	default:
		frame, err := upstream.AppendLegacyFrame(nil, ev.Name, 0, ev.Args)
		if err != nil {
			return err
		}
		return c.enqueueFrame(frame)
	}
}

func (c *legacyConn) enqueueFrame(b []byte) error { return c.enqueue(outItem{frame: b}, len(b)) }

// enqueue applies the overflow rule to a frame that does not fit.
func (c *legacyConn) enqueue(it outItem, size int) error {
	err := c.q.Push(it, size)
	if errors.Is(err, session.ErrQueueFull) {
		return c.overflow()
	}
	return err
}

// overflow applies the configured rule to one frame that does not fit.
func (c *legacyConn) overflow() error {
	if c.srv.opts.Edge.Overflow == config.OverflowDropNewest {
		c.srv.dropped.Add(1)
		return session.ErrQueueFull
	}
	if c.closeWith(closeSlow, legacy.ReasonSlowConsumer, false) {
		c.srv.slow.Add(1)
		c.srv.log.Info("edge: closing slow legacy consumer", "session", c.id)
	}
	return session.ErrQueueFull
}

// send queues a control frame in order with the outbox.
func (c *legacyConn) send(f legacy.Frame) {
	c.box.mu.Lock()
	defer c.box.mu.Unlock()
	c.sendLocked(f)
}

func (c *legacyConn) sendLocked(f legacy.Frame) { _ = c.enqueueFrame(legacy.Append(nil, f)) }

func (c *legacyConn) pushFrame(b []byte) {
	c.box.mu.Lock()
	defer c.box.mu.Unlock()
	_ = c.enqueueFrame(b)
}

// fail sends an error frame and counts it.
func (c *legacyConn) fail(id uint64, e replyError, channel string) {
	c.box.mu.Lock()
	defer c.box.mu.Unlock()
	c.failLocked(id, e, channel)
}

func (c *legacyConn) failLocked(id uint64, e replyError, channel string) {
	c.srv.errReplies.Add(1)
	c.sendLocked(legacy.Frame{Type: legacy.TypeError, ID: id, Code: e.code, Message: e.msg, Channel: channel})
}

// closeWith asks the writer to close with code and reason, after writing
// what is queued when flush is set. Only the first call counts; it
// reports whether this was it.
func (c *legacyConn) closeWith(code websocket.StatusCode, reason string, flush bool) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.closing, c.closeCode, c.closeReason, c.closeFlush = true, code, reason, flush
	c.mu.Unlock()
	c.stopNow()
	c.q.Close()
	return true
}

func (c *legacyConn) closeState() (closing bool, code websocket.StatusCode, reason string, flush bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing, c.closeCode, c.closeReason, c.closeFlush
}

// writeLoop is the connection's only writer: it takes everything queued at
// once and writes it under one deadline, encoding messages into one reused
// buffer (no allocation per message).
func (c *legacyConn) writeLoop() {
	defer close(c.done)
	deadline := time.AfterFunc(time.Hour, func() { _ = c.ws.CloseNow() })
	deadline.Stop()
	defer deadline.Stop()
	// A context that is never done: a cancelable one costs the websocket
	// library an AfterFunc per frame; the timer above bounds the writes.
	wctx := context.Background()

	var batch []outItem
	buf := make([]byte, 0, 4096)
	for {
		err := c.q.Wait(wctx)
		closing, code, reason, flush := c.closeState()
		if closing && (!flush || err != nil) {
			c.closeHandshake(code, reason)
			return
		}
		if err != nil {
			return // the reader has finished
		}
		batch = c.q.Drain(batch)
		deadline.Reset(c.srv.opts.WriteTimeout)
		for _, it := range batch {
			out := it.frame
			if out == nil {
				buf = legacy.AppendMessage(buf[:0], it.msg.Channel, it.msg.Seq, it.msg.Data)
				out = buf
			}
			if err = c.ws.Write(wctx, websocket.MessageText, out); err != nil {
				break
			}
		}
		deadline.Stop()
		clear(batch)
		if err != nil {
			_ = c.ws.CloseNow() // unblocks the reader
			return
		}
	}
}

// closeHandshake closes with code and reason. The handshake needs the
// peer's close frame; when the reader is busy with a request it cannot
// read it, so the wait is bounded.
func (c *legacyConn) closeHandshake(code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.ws.Close(code, reason)
	}()
	t := time.NewTimer(c.srv.opts.WriteTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = c.ws.CloseNow()
		<-done
	}
}

// httpError answers a refused request with {"error":msg}.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b := append([]byte(`{"error":`), jsonQuote(msg)...)
	_, _ = w.Write(append(b, "}\n"...))
}
