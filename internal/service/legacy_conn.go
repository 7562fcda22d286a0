package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/bufpool"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// msgOverhead approximates the envelope bytes of a message frame, for the
// outbound queue's byte bound.
const msgOverhead = 64

// outItem is one queued outbound frame: a channel message, encoded by the
// writer into its reused buffer, or a control frame encoded up front.
type outItem struct {
	msg   broker.Message
	frame []byte
}

// legacyConn is one client connection. Its reader runs inline in
// ServeHTTP; one writer goroutine drains the outbound queue.
//
// Lock order: hubChannel.mu (Deliver, Lost, OnReady run under it) before
// legacyConn.mu.
type legacyConn struct {
	srv *Legacy
	ws  *websocket.Conn
	id  string
	q   *session.Queue[outItem]

	ctx    context.Context // canceled when the reader finishes
	cancel context.CancelFunc
	done   chan struct{} // closed when the writer returns
	// The reader's own (see awaitWriter): writerStuck is set when the
	// writer wrote nothing for collectWait while the reader waited for
	// it; own counts the messages of the client's publishes the fan-out
	// may not have queued yet.
	writerStuck bool
	own         ownPublishes
	// written counts the frames the writer has written: its progress,
	// which the reader's wait watches.
	written atomic.Uint64

	mu          sync.Mutex
	subs        map[string]struct{}
	closing     bool // closeWith was called; the fields below are set
	closeCode   websocket.StatusCode
	closeReason string
	closeFlush  bool // write what is queued before closing
}

var _ ReplaySubscriber = (*legacyConn)(nil)

func newLegacyConn(srv *Legacy, ws *websocket.Conn) (*legacyConn, error) {
	q, err := session.NewQueue[outItem](srv.limits.OutboundMessages, srv.limits.OutboundBytes)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &legacyConn{
		srv:    srv,
		ws:     ws,
		id:     rand.Text(),
		q:      q,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		subs:   make(map[string]struct{}),
	}, nil
}

// run serves the connection until the client goes away or it is closed.
func (c *legacyConn) run() {
	c.ws.SetReadLimit(c.srv.limits.MaxMessageBytes)
	go c.writeLoop()
	c.send(legacy.Frame{Type: legacy.TypeWelcome, Session: c.id})

	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				// The websocket library has already closed with 1009.
				c.srv.tooLarge.Add(1)
			}
			c.srv.log.Debug("legacy: connection ended", "session", c.id, "err", err)
			break
		}
		c.handle(typ, data)
		c.awaitWriter()
	}

	c.cancel()
	c.mu.Lock()
	subs := c.subs
	c.subs = nil
	c.mu.Unlock()
	for ch := range subs {
		c.srv.hub.Unsubscribe(ch, c)
	}
	c.q.Close()
	<-c.done
	_ = c.ws.CloseNow()
}

// awaitWriter is the backpressure on a client's own traffic, run by the
// reader after each frame it handled. The answers and messages a client's
// requests cause are the service's doing, and a client that writes many
// requests at once and reads a moment later may cause more than its
// queue holds without being slow at all. So once the queue is over half
// its bounds (by either limit; answers and channel messages alike), the
// reader reads no more of the client's requests until the writer has
// taken the queue, as TCP would make a writer wait. The other half is
// room for the channels' traffic meanwhile.
//
// The messages of the client's own publishes count as soon as they are
// published, though the hub's fan-out queues them later, on its own
// goroutine: a reader that did not count them could run any number of
// publishes ahead of the fan-out, whose messages would then overflow the
// queue however long the reader waited. Once they would pass half the
// queue, the reader first waits for the fan-out to queue them.
//
// The wait for the writer lasts while the writer writes: only a writer
// that wrote nothing for collectWait is stuck on a client that does not
// read. The reader then goes on, with the overflow rule deciding, until
// the queue is back under half; so a client that asks without reading is
// still closed as a slow consumer, a second or two after its socket's
// buffers filled. (A writer busy with a long batch for a client that
// reads slowly is not stuck.)
func (c *legacyConn) awaitWriter() {
	items, bytes := c.q.Len()
	if c.writerStuck {
		if !c.underHalf(items, bytes) {
			return
		}
		c.writerStuck = false
	}
	if c.underHalf(items+c.own.items, bytes+c.own.bytes) {
		return
	}
	if len(c.own.ahead) > 0 {
		c.own.catchUp(c.ctx, c.srv.hub)
		if items, bytes = c.q.Len(); c.underHalf(items, bytes) {
			return
		}
	}
	lim := c.srv.limits
	for {
		written := c.written.Load()
		ctx, cancel := context.WithTimeout(c.ctx, collectWait)
		// Room for the other half: the queue is at most half full.
		err := c.q.WaitRoom(ctx, lim.OutboundMessages-lim.OutboundMessages/2, lim.OutboundBytes-lim.OutboundBytes/2)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			return // room, or the connection is ending
		}
		if c.written.Load() == written {
			c.writerStuck = true // until the queue is back under half
			return
		}
	}
}

// underHalf reports whether items and bytes are within half the queue's
// bounds.
func (c *legacyConn) underHalf(items, bytes int) bool {
	lim := c.srv.limits
	return items <= lim.OutboundMessages/2 && bytes <= lim.OutboundBytes/2
}

// handle answers one client frame. Every bad frame gets an error frame and
// the connection stays up.
func (c *legacyConn) handle(typ websocket.MessageType, data []byte) {
	if typ != websocket.MessageText {
		c.fail(0, legacy.CodeBadRequest, "binary frames are not supported", "")
		return
	}
	f, err := legacy.Decode(data)
	if err != nil {
		c.fail(f.ID, legacy.CodeBadRequest, err.Error(), "")
		return
	}
	switch f.Type {
	case legacy.TypeSubscribe:
		c.subscribe(f)
	case legacy.TypeUnsubscribe:
		c.unsubscribe(f)
	case legacy.TypePublish:
		c.publish(f)
	case legacy.TypePing:
		c.send(legacy.Frame{Type: legacy.TypePong, ID: f.ID})
	case legacy.TypeWelcome, legacy.TypeAck, legacy.TypeMessage, legacy.TypePong, legacy.TypeError:
		c.fail(f.ID, legacy.CodeBadRequest, fmt.Sprintf("frame type %q is sent by servers only", f.Type), "")
	default:
		c.fail(f.ID, legacy.CodeUnknownType, fmt.Sprintf("frame type %q is not supported by this service", f.Type), "")
	}
}

func (c *legacyConn) subscribe(f legacy.Frame) {
	if err := broker.ValidChannel(f.Channel); err != nil {
		c.fail(f.ID, legacy.CodeInvalidChannel, err.Error(), f.Channel)
		return
	}
	c.mu.Lock()
	_, dup := c.subs[f.Channel]
	n := len(c.subs)
	c.mu.Unlock()
	switch {
	case dup:
		c.fail(f.ID, legacy.CodeAlreadySubscribed, "already subscribed", f.Channel)
		return
	case n >= c.srv.limits.MaxSubscriptions:
		c.fail(f.ID, legacy.CodeTooManySubscriptions, fmt.Sprintf("at most %d subscriptions per connection", c.srv.limits.MaxSubscriptions), f.Channel)
		return
	}

	acked := false
	_, err := c.srv.hub.SubscribeWith(c.ctx, f.Channel, c, SubscribeOptions{
		Since:      f.Since,
		HasSince:   f.HasSince,
		ReplayPage: c.srv.limits.replayPage(),
		// Runs before the first message of the subscription is delivered,
		// so the ack is queued ahead of them.
		OnReady: func(pos broker.Position) {
			acked = true
			c.mu.Lock()
			if c.subs != nil {
				c.subs[f.Channel] = struct{}{}
			}
			c.mu.Unlock()
			c.send(legacy.Frame{Type: legacy.TypeAck, ID: f.ID, Seq: pos.Seq, HasSeq: true})
		},
	})
	if err == nil {
		return
	}
	if acked { // the replay fell behind after it had started
		c.mu.Lock()
		delete(c.subs, f.Channel)
		c.mu.Unlock()
		c.fail(0, legacy.CodeSubscriptionLost, err.Error(), f.Channel)
		return
	}
	var gone *broker.HistoryGoneError
	switch {
	case errors.As(err, &gone):
		c.fail(f.ID, legacy.CodeHistoryGone, fmt.Sprintf("messages after seq %d are no longer retained (oldest is %d)", f.Since, gone.Oldest), f.Channel)
	case errors.Is(err, broker.ErrHistoryGone):
		c.fail(f.ID, legacy.CodeHistoryGone, err.Error(), f.Channel)
	case errors.Is(err, ErrSinceAhead):
		c.fail(f.ID, legacy.CodeBadSince, err.Error(), f.Channel)
	case errors.Is(err, broker.ErrInvalidChannel):
		c.fail(f.ID, legacy.CodeInvalidChannel, err.Error(), f.Channel)
	case errors.Is(err, ErrAlreadySubscribed):
		c.fail(f.ID, legacy.CodeAlreadySubscribed, err.Error(), f.Channel)
	default:
		c.srv.log.Warn("legacy: subscribe failed", "session", c.id, "channel", f.Channel, "err", err)
		c.fail(f.ID, legacy.CodeInternal, err.Error(), f.Channel)
	}
}

// unsubscribe is idempotent: leaving a channel one does not hold is acked.
func (c *legacyConn) unsubscribe(f legacy.Frame) {
	if err := broker.ValidChannel(f.Channel); err != nil {
		c.fail(f.ID, legacy.CodeInvalidChannel, err.Error(), f.Channel)
		return
	}
	c.srv.hub.Unsubscribe(f.Channel, c)
	c.mu.Lock()
	delete(c.subs, f.Channel)
	c.mu.Unlock()
	c.send(legacy.Frame{Type: legacy.TypeAck, ID: f.ID})
}

func (c *legacyConn) publish(f legacy.Frame) {
	if c.srv.faults.refuse() {
		c.failAfter(c.srv.faults.delay(), f.ID, legacy.CodeInternal, ErrInjected.Error(), f.Channel)
		return
	}
	// f.Data aliases the frame that ws.Read allocated for this message
	// alone, so the broker may keep it.
	if err := checkData(f.Data); err != nil {
		c.fail(f.ID, legacy.CodeBadRequest, err.Error(), f.Channel)
		return
	}
	m, err := c.srv.hub.Broker().Publish(c.ctx, f.Channel, f.Data)
	switch {
	case errors.Is(err, broker.ErrInvalidChannel):
		c.fail(f.ID, legacy.CodeInvalidChannel, err.Error(), f.Channel)
		return
	case err != nil:
		c.srv.log.Warn("legacy: publish failed", "session", c.id, "channel", f.Channel, "err", err)
		c.fail(f.ID, legacy.CodeInternal, err.Error(), f.Channel)
		return
	}
	c.srv.published.Add(1)
	c.own.note(c.ctx, c.srv.hub, m, legacyMsgSize(m))
	c.sendAfter(c.srv.faults.delay(), legacy.Frame{Type: legacy.TypeAck, ID: f.ID, Seq: m.Seq, HasSeq: true})
}

// fail sends an error frame and counts it.
func (c *legacyConn) fail(id uint64, code, msg, channel string) {
	c.srv.errFrames.Add(1)
	c.send(legacy.Frame{Type: legacy.TypeError, ID: id, Code: code, Message: msg, Channel: channel})
}

// send queues a control frame.
func (c *legacyConn) send(f legacy.Frame) {
	b := legacy.Append(nil, f)
	c.push(outItem{frame: b}, len(b))
}

// Deliver implements Subscriber: it queues m without blocking.
func (c *legacyConn) Deliver(m broker.Message) {
	c.push(outItem{msg: m}, legacyMsgSize(m))
}

// WaitRoom implements ReplaySubscriber: a replay waits for the writer to
// make room in the outbound queue instead of overflowing it. It fails once
// the queue is closed (the connection is closing or its writer is gone).
func (c *legacyConn) WaitRoom(ctx context.Context, msgs []broker.Message) (int, error) {
	return replayWindow(ctx, msgs, c.srv.limits.OutboundMessages, c.srv.limits.OutboundBytes, legacyMsgSize, c.q.WaitRoom)
}

// legacyMsgSize is what a message counts against the queue's byte bound.
func legacyMsgSize(m broker.Message) int { return len(m.Data) + len(m.Channel) + msgOverhead }

// Lost implements Subscriber: the client learns that the channel's stream
// ended with an error frame carrying the channel.
func (c *legacyConn) Lost(channel string, err error) {
	c.mu.Lock()
	delete(c.subs, channel)
	c.mu.Unlock()
	c.fail(0, legacy.CodeSubscriptionLost, err.Error(), channel)
}

// push applies the overflow rule: a frame that does not fit the queue
// closes the connection as a slow consumer.
func (c *legacyConn) push(it outItem, size int) {
	if err := c.q.Push(it, size); errors.Is(err, session.ErrQueueFull) {
		if c.closeWith(CloseSlowConsumer, legacy.ReasonSlowConsumer, false) {
			c.srv.slow.Add(1)
			c.srv.log.Info("legacy: closing slow consumer", "session", c.id)
		}
	}
}

// closeWith asks the writer to close the connection with code and reason,
// after writing what is queued when flush is set. Only the first call
// counts; it reports whether this was it.
func (c *legacyConn) closeWith(code websocket.StatusCode, reason string, flush bool) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.closing, c.closeCode, c.closeReason, c.closeFlush = true, code, reason, flush
	c.mu.Unlock()
	c.q.Close()
	return true
}

func (c *legacyConn) closeState() (closing bool, code websocket.StatusCode, reason string, flush bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing, c.closeCode, c.closeReason, c.closeFlush
}

// writeLoop is the connection's only writer. It takes everything queued at
// once and writes it under one deadline, reusing one buffer for message
// frames.
//
// Writes get a context that is never done: with a cancelable one the
// websocket library arms a context.AfterFunc per frame, which dominated the
// fan-out's allocations. The deadline is one reused timer per batch that
// cuts the connection instead.
// The writer's encoding buffer comes from a pool for each batch, so that
// an idle connection holds none; buffers past 64 KiB are dropped.
var legacyBufs = bufpool.New(4096, 64<<10)

// legacyBatchKeep bounds the batch array an idle connection keeps.
const legacyBatchKeep = 16

func (c *legacyConn) writeLoop() {
	defer close(c.done)
	// Nothing drains the queue once the writer is gone: later pushes fail
	// and a replay waiting for room gives up.
	defer c.q.Close()
	deadline := time.AfterFunc(time.Hour, func() {
		c.srv.log.Debug("legacy: write timed out", "session", c.id)
		_ = c.ws.CloseNow()
	})
	deadline.Stop()
	defer deadline.Stop()
	wctx := context.WithoutCancel(c.ctx)

	var (
		batch []outItem
		bufp  *[]byte // from legacyBufs while a batch is written
	)
	for {
		err := c.q.Wait(c.ctx)
		closing, code, reason, flush := c.closeState()
		if closing && (!flush || err != nil) {
			_ = c.ws.Close(code, reason)
			return
		}
		if err != nil {
			return // the reader has finished
		}
		batch = c.q.Drain(batch)
		deadline.Reset(c.srv.limits.WriteTimeout)
		bufp = legacyBufs.Get()
		for _, it := range batch {
			out := it.frame
			if out == nil {
				*bufp = legacy.AppendMessage((*bufp)[:0], it.msg.Channel, it.msg.Seq, it.msg.Data)
				out = *bufp
			}
			if err = c.ws.Write(wctx, websocket.MessageText, out); err != nil {
				break
			}
			c.written.Add(1)
		}
		deadline.Stop()
		legacyBufs.Put(bufp)
		clear(batch) // let the payloads go
		if len(batch) > legacyBatchKeep {
			batch = nil // an idle connection keeps no large array
		}
		if err != nil {
			c.srv.log.Debug("legacy: write failed", "session", c.id, "err", err)
			_ = c.ws.CloseNow() // unblocks the reader
			return
		}
	}
}
