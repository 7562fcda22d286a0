package eio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/bufpool"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wsconn"
	"github.com/coder/websocket"
)

// Handler is the layer above Engine.IO. For one Conn its calls never
// overlap and come in this order: OnOpen, any number of OnMessage, OnClose.
// They run on the connection's reader, so they should not block for long:
// the client's packets wait meanwhile. Its pong does too, so the time an
// OnMessage takes does not count against the client's ping timeout (see
// the heartbeat).
type Handler interface {
	// OnOpen is called once the session exists, before any message is
	// delivered; packets it sends follow the open packet.
	OnOpen(c *Conn)
	// OnMessage delivers one message packet. data belongs to the callee.
	OnMessage(c *Conn, data []byte, binary bool)
	// OnClose is called once when the session has closed; err tells why
	// (ErrClosed, ErrClientClose, ErrPingTimeout, ...; match with errors.Is).
	OnClose(c *Conn, err error)
}

// ClosingHandler is a Handler told of a session's end as soon as it is
// decided. OnClose comes only after the message being handled: a
// handler call waiting on something (a backend, say) holds it back, and
// OnClosing is how such a call learns that it may stop. OnClosing runs
// once, on the goroutine that ends the session, possibly while OnOpen or
// OnMessage runs; it must not block.
type ClosingHandler interface {
	Handler
	OnClosing(c *Conn, err error)
}

// RequestInfo is what a Conn keeps of the request that opened it.
type RequestInfo struct {
	Header     http.Header
	Query      url.Values
	RemoteAddr string
}

// Conn is one Engine.IO session, whatever transport it currently uses. All
// methods are safe for concurrent use.
type Conn struct {
	id  string
	srv *Server
	req requestRecord

	ctx    context.Context // canceled (with the close reason) when closed
	cancel context.CancelCauseFunc
	// work counts what must finish before the session is fully gone: the
	// OnClose call, any WebSocket reader/writer pair and an upgrade in
	// progress.
	work sync.WaitGroup

	recvMu sync.Mutex          // serializes Handler calls
	data   atomic.Pointer[any] // the Handler's own state; see SetData
	renew  wsconn.Renewal      // the WebSocket reader's (see readLoop)

	mu        sync.Mutex
	transport string // TransportPolling or TransportWebSocket
	ws        *websocket.Conn
	link      *wsLink // ws's reads and writes
	writing   bool    // a WebSocket writer goroutine is running
	closed    bool
	reason    error
	// drain: on close, queued packets are still delivered (a server-side
	// Close) rather than dropped (a failure).
	drain   bool
	upgrade upgradeState
	// probing is the WebSocket of an upgrade in progress, which abort
	// cuts too (it is not ws until the upgrade is done); aborted: abort
	// ran.
	aborted bool
	probing *websocket.Conn

	// The outbound queue: groups of packets that must stay together (a
	// Socket.IO packet and its binary attachments), bounded by the
	// config's QueuePackets and QueueBytes (see push). Kept here under mu
	// rather than in a session.Queue of its own: one lock per send, and
	// no queue object or channel per idle session.
	queue      []outGroup
	queueBytes int
	roomWake   chan struct{} // see WaitRoom; closed when the queue empties
	// writerStuck: the writer wrote nothing for collectWait while the
	// reader waited for it (see awaitCollect).
	writerStuck bool
	// isAnswer tells the groups that have the answers' slack past the
	// bounds (see SetAnswers).
	isAnswer func(first engineio.Packet) bool

	// polling only
	pollWake   chan struct{} // non-nil while a GET waits; cap 1
	posting    bool          // a POST body is being handled
	postDone   chan struct{} // see awaitPostDone; closed when posting ends
	final      []engineio.Packet
	finalTaken bool

	// heartbeat
	pingTimer    *time.Timer
	pongTimer    *time.Timer
	nextPing     time.Time // when the next ping is (or was) due
	pongDeadline time.Time // while awaitingPong
	pingSeq      uint64    // identifies the ping the pong timer waits for
	awaitingPong bool
	pongExtended bool // the pong deadline was already pushed back once
	handling     bool // a Handler's OnMessage runs (see Heartbeat)
}

type upgradeState uint8

const (
	upgradeNone upgradeState = iota
	upgradeStarted
	upgradeProbed // probe answered: pending polls are released with noop
	upgradeDone
)

func newConn(s *Server, id, transport string, r *http.Request) *Conn {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Conn{
		id:        id,
		srv:       s,
		req:       recordRequest(r),
		ctx:       ctx,
		cancel:    cancel,
		transport: transport,
	}
	c.work.Add(1) // released after OnClose
	return c
}

// ID is the session id (the "sid" of the handshake).
func (c *Conn) ID() string { return c.id }

// Request describes the request that opened the session. Each call builds
// it anew from what the session keeps (see requestRecord).
func (c *Conn) Request() RequestInfo { return c.req.info() }

// Context is canceled when the session closes; context.Cause tells why.
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed when the session closes.
func (c *Conn) Done() <-chan struct{} { return c.ctx.Done() }

// Err is nil while the session is open, then the reason it closed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// SetData stores the Handler's own per-session state: set it in OnOpen.
func (c *Conn) SetData(v any) { c.data.Store(&v) }

// Data returns what SetData stored (nil before), from any goroutine.
func (c *Conn) Data() any {
	if p := c.data.Load(); p != nil {
		return *p
	}
	return nil
}

// Transport is the transport the session uses now.
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// SendText queues one text message.
func (c *Conn) SendText(data []byte) error {
	return c.Send(engineio.Packet{Type: engineio.Message, Data: data})
}

// SendBinary queues one binary message.
func (c *Conn) SendBinary(data []byte) error {
	return c.Send(engineio.Packet{Type: engineio.Message, Data: data, Binary: true})
}

// Send queues packets as one unit: either all of them are queued, next to
// each other, or none is. The packets' Data must not be modified afterwards
// (it may be shared between sessions).
//
// Overflow rule: when the packets do not fit the bounded queue (by count of
// Send calls or by bytes) the session is closed as a slow consumer and Send
// returns ErrSlowConsumer; packets that answer the client's own request
// (see SetAnswers) have a little more room first. On a closed session Send
// returns ErrClosed.
func (c *Conn) Send(ps ...engineio.Packet) error {
	return c.push(outGroup{packets: slices.Clone(ps)})
}

// SetAnswers tells Send and SendFrame which of their packets answer a
// request of the client's own (a Socket.IO ack, say): isAnswer is given
// the first packet of each group that does not fit the queue. Such a group
// is queued past the bounds, in order behind the rest, by answerSlack
// groups and as many bytes again as QueueBytes; only past that slack is
// the session closed as a slow consumer. A full queue of messages then
// does not cost the client the answers it waits for, while one that keeps
// asking without reading is still closed. isAnswer runs with the
// session's lock held: it must be quick and must not use the Conn. nil,
// the default, makes nothing an answer.
func (c *Conn) SetAnswers(isAnswer func(first engineio.Packet) bool) {
	c.mu.Lock()
	c.isAnswer = isAnswer
	c.mu.Unlock()
}

// answerSlack is how far past the queue's bound answers may go, in groups
// (the bytes may go as far again past theirs): enough for the few
// requests a client has in flight, not for one that never reads.
const answerSlack = 8

// ErrQueueFull is what Offer returns when the packets do not fit the
// outbound queue; the session is left as it was.
var ErrQueueFull = errors.New("eio: outbound queue full")

// Offer is Send for a layer that applies its own overflow rule: when the
// packets do not fit the bounded queue it returns ErrQueueFull and leaves
// the session untouched (open, queue as it was, not counted as a slow
// consumer), so the caller may drop them and keep the client. On a closed
// session it returns ErrClosed.
func (c *Conn) Offer(ps ...engineio.Packet) error {
	return c.enqueue(outGroup{packets: slices.Clone(ps)}, refuseWhenFull, false)
}

// SendFrame queues one text message already encoded as an Engine.IO text
// packet: frame is "4" followed by the message. It is written as is, without
// a copy, so one frame can be shared by many sessions (a broadcast encoded
// once); it must not be modified afterwards. The overflow rule is Send's.
func (c *Conn) SendFrame(frame []byte) error {
	if !isMessageFrame(frame) {
		return ErrInvalidFrame
	}
	return c.push(outGroup{frame: frame})
}

// isMessageFrame reports whether frame is an Engine.IO message packet.
func isMessageFrame(frame []byte) bool {
	return len(frame) > 0 && frame[0] == byte(engineio.Message)
}

// SendHeld is Send for a caller that calls Flush once it has queued what
// it has to send: it does not start the WebSocket writer, so that Flush
// can write the packets on the caller's goroutine. Sends from elsewhere
// still start it, and it writes what is held with the rest.
func (c *Conn) SendHeld(ps ...engineio.Packet) error {
	return c.enqueue(outGroup{packets: slices.Clone(ps)}, closeWhenFull, true)
}

// SendFrameHeld is SendFrame held for Flush (see SendHeld), for a frame
// in a buffer from FrameBuffer. It takes the buffer: once the frame is
// written over WebSocket, or refused, the buffer goes back to the pool,
// so a relayed message costs no allocation.
func (c *Conn) SendFrameHeld(frame *[]byte) error {
	return c.enqueueFrame(frame, closeWhenFull)
}

// OfferFrameHeld is SendFrameHeld with Offer's overflow rule.
func (c *Conn) OfferFrameHeld(frame *[]byte) error {
	return c.enqueueFrame(frame, refuseWhenFull)
}

func (c *Conn) enqueueFrame(frame *[]byte, full whenFull) error {
	if !isMessageFrame(*frame) {
		return ErrInvalidFrame
	}
	return c.enqueue(outGroup{frame: *frame, pooled: frame}, full, true)
}

// FrameBuffer returns an empty buffer for SendFrameHeld and
// OfferFrameHeld to take: append the frame to *b.
func FrameBuffer() *[]byte { return framePool.Get() }

// framePool holds frame buffers; one that grew past 4 KiB is left to the
// collector.
var framePool = bufpool.New(256, 4<<10)

// outGroup is one unit of the outbound queue: packets that must stay
// together (a Socket.IO packet and its binary attachments), or one
// pre-encoded text frame (see SendFrame), whose buffer goes back to
// framePool once written when pooled is set (see release).
type outGroup struct {
	packets []engineio.Packet
	frame   []byte
	pooled  *[]byte
}

// release gives a pooled frame's buffer back, once nothing reads it: its
// bytes have been copied into a write batch or written, or it was
// refused.
func (g outGroup) release() {
	if g.pooled != nil {
		framePool.Put(g.pooled)
	}
}

// first is the group's first packet, as isAnswer sees it.
func (g outGroup) first() engineio.Packet {
	if g.frame != nil {
		return engineio.Packet{Type: engineio.Message, Data: g.frame[1:]}
	}
	if len(g.packets) == 0 {
		return engineio.Packet{}
	}
	return g.packets[0]
}

// size is what the group counts against the queue's byte bound.
func (g outGroup) size() int {
	n := len(g.frame)
	for _, p := range g.packets {
		n += len(p.Data) + 1
	}
	return n
}

// appendPackets appends the group's packets to dst; a frame becomes a
// message packet whose data shares the frame's bytes.
func (g outGroup) appendPackets(dst []engineio.Packet) []engineio.Packet {
	if g.frame != nil {
		return append(dst, engineio.Packet{Type: engineio.Message, Data: g.frame[1:]})
	}
	return append(dst, g.packets...)
}

// push queues group. Overflow rule: past the queue's bounds the session
// closes as a slow consumer, an answer past the slack (see Send).
func (c *Conn) push(group outGroup) error { return c.enqueue(group, closeWhenFull, false) }

// whenFull is what enqueue does with a group past the queue's bounds.
type whenFull int

const (
	closeWhenFull  whenFull = iota // close the session as a slow consumer (Send); an answer gets answerWhenFull
	refuseWhenFull                 // return ErrQueueFull, change nothing (Offer)
	answerWhenFull                 // queue it up to answerSlack past the bounds, then close (SetAnswers)
	queueAnyway                    // queue it past the bounds (the heartbeat's ping)
)

// enqueue queues group, or applies full when it does not fit the queue's
// bounds. held leaves the write to the caller's Flush.
func (c *Conn) enqueue(group outGroup, full whenFull, held bool) error {
	size := group.size()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		group.release()
		return ErrClosed
	}
	if full == closeWhenFull && c.isAnswer != nil && !c.fits(size, false) && c.isAnswer(group.first()) {
		full = answerWhenFull
	}
	if full != queueAnyway && !c.fits(size, full == answerWhenFull) {
		c.mu.Unlock()
		group.release()
		if full == refuseWhenFull {
			return ErrQueueFull
		}
		c.srv.slowConsumers.Add(1)
		c.fail(ErrSlowConsumer, engineio.Close)
		return ErrSlowConsumer
	}
	c.queue = append(c.queue, group)
	c.queueBytes += size
	if !held {
		c.startWriterLocked()
	}
	c.notifyPollLocked()
	c.mu.Unlock()
	return nil
}

// fits reports whether a group of size bytes fits the queue's bounds, or
// with slack its bounds for answers (see SetAnswers). c.mu is held.
func (c *Conn) fits(size int, slack bool) bool {
	packets, bytes := c.srv.cfg.QueuePackets, c.srv.cfg.QueueBytes
	if slack {
		packets, bytes = packets+answerSlack, 2*bytes
	}
	// An empty queue takes a group of any size (see session.Queue.Push).
	return len(c.queue) == 0 || len(c.queue) < packets && c.queueBytes+size <= bytes
}

// notifyPollLocked wakes the waiting poll, if any.
func (c *Conn) notifyPollLocked() {
	if c.pollWake != nil {
		select {
		case c.pollWake <- struct{}{}:
		default:
		}
	}
}

// queued reports whether packets wait in the queue. c.mu is held.
func (c *Conn) queued() bool { return len(c.queue) > 0 }

// swapQueueLocked hands the queued groups to the caller and gives the queue
// spare's backing array (emptied), so a writer and the queue trade two
// arrays rather than allocate. c.mu is held.
func (c *Conn) swapQueueLocked(spare []outGroup) []outGroup {
	groups := c.queue
	c.queue, c.queueBytes = spare[:0], 0
	c.wakeRoomLocked()
	return groups
}

// takeAll empties the queue into one flat slice of packets. c.mu is held.
func (c *Conn) takeAll() []engineio.Packet {
	var out []engineio.Packet
	for _, g := range c.queue {
		out = g.appendPackets(out)
	}
	clear(c.queue) // drop references to the data
	c.queue, c.queueBytes = c.queue[:0], 0
	if cap(c.queue) > idleQueueKeep {
		c.queue = nil // a polling session keeps no burst-sized array, as a writer does not
	}
	c.wakeRoomLocked()
	return out
}

// Close closes the session from the server side, gracefully: packets
// already queued are still delivered, then the client learns of the close
// (a close packet on polling, a close frame on WebSocket). OnClose is
// called with ErrClosed. Closing a closed session does nothing.
func (c *Conn) Close() {
	c.closeWith(ErrClosed, true, engineio.Close)
}

// CloseWith is Close with reason reported to OnClose instead of ErrClosed
// (the layer above tells why it closed). A nil reason means ErrClosed. It
// reports whether this call closed the session (false: it was closed).
func (c *Conn) CloseWith(reason error) bool {
	if reason == nil {
		reason = ErrClosed
	}
	return c.closeWith(reason, true, engineio.Close)
}

// fail closes the session after a failure: queued packets are dropped and a
// waiting poll is answered with term alone (close, or noop when the client
// asked to close).
func (c *Conn) fail(reason error, term engineio.Type) {
	c.closeWith(reason, false, term)
}

// clientCloseLinger keeps a polling sid answerable for a moment after the
// client's close packet, for a poll sent together with it.
const clientCloseLinger = time.Second

// closeWith closes the session and reports whether it was open.
func (c *Conn) closeWith(reason error, drain bool, term engineio.Type) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed, c.reason, c.drain = true, reason, drain
	c.stopHeartbeatLocked()
	c.startWriterLocked() // to flush and close the WebSocket
	var linger time.Duration
	if c.transport == TransportPolling {
		if drain {
			c.final = append(c.takeAll(), engineio.Packet{Type: engineio.Close})
			// Like Node, the sid stays valid until a poll has collected
			// the close packet, so that queued packets reach the client
			// (the close packet comes alone, after them).
			if c.pollWake == nil || len(c.final) > 1 {
				linger = c.srv.cfg.PingInterval + c.srv.cfg.PingTimeout
			}
		} else {
			c.final = []engineio.Packet{{Type: term}}
			if term == engineio.Noop && c.pollWake == nil {
				// The client closed with a POST; its last poll may be
				// on the way and is answered with the noop.
				linger = clientCloseLinger
			}
		}
	}
	c.notifyPollLocked()
	c.mu.Unlock()

	c.cancel(reason)
	if h, ok := c.srv.handler.(ClosingHandler); ok {
		h.OnClosing(c, reason)
	}
	if linger > 0 {
		time.AfterFunc(linger, func() { c.srv.forget(c) })
	} else {
		c.srv.forget(c)
	}
	go c.notifyClosed()
	return true
}

// notifyClosed runs OnClose once no Handler call is in progress.
func (c *Conn) notifyClosed() {
	defer c.work.Done()
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	c.srv.handler.OnClose(c, c.reason)
}

// receive handles one packet from the client, whatever the transport.
func (c *Conn) receive(p engineio.Packet) {
	if p.Type != engineio.Pong {
		c.refreshPongDeadline()
	}
	switch p.Type {
	case engineio.Pong:
		c.onPong()
	case engineio.Message:
		c.recvMu.Lock()
		if c.ctx.Err() == nil {
			c.setHandling(true)
			c.srv.handler.OnMessage(c, p.Data, p.Binary)
			c.setHandling(false)
		}
		c.recvMu.Unlock()
	case engineio.Close:
		c.fail(ErrClientClose, engineio.Noop)
	case engineio.Ping:
		// In protocol v4 only the server pings.
		c.fail(fmt.Errorf("%w: ping from client", ErrTransport), engineio.Close)
	default:
		// open, upgrade and noop mean nothing on an established transport;
		// Node ignores them too.
	}
}
