package edge

import (
	"runtime"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
	"github.com/baton-rt/baton/internal/wsconn"
)

// A legacy connection's outbound side: a bounded queue of encoded frames
// in a pooled batch (one lock per send), written by Flush on the goroutine
// that delivered (see Flush) or by a write loop that runs only while the
// queue is not empty, on a goroutine of the edge's writerPool; either
// writes a batch in one write(2) (up to wsconn's 64 KiB gather limit)
// through the hijack's wsconn.Writer.

// outBatch is a connection's queued frames: each frame's payload, in
// order, and the buffer the messages among them are encoded in. A message
// is encoded when it is queued, since its bytes are only lent
// (session.Sink.Deliver). A batch comes from batchPool when something is
// queued and goes back once a writer has written it, so a fan-out
// allocates nothing per message, however large its bursts, and an idle
// connection holds no batch.
type outBatch struct {
	frames [][]byte
	enc    []byte
}

// A batch goes back to batchPool only if it holds at most these, so that
// a rare huge burst is not kept.
const (
	batchKeepFrames = 4096
	batchKeepBytes  = 64 << 10
)

var batchPool = sync.Pool{New: func() any {
	return &outBatch{frames: make([][]byte, 0, 16), enc: make([]byte, 0, 1024)}
}}

// putBatch hands a written batch back; nil is none.
func putBatch(b *outBatch) {
	if b == nil {
		return
	}
	clear(b.frames) // drop references to the frames' bytes
	if cap(b.frames) > batchKeepFrames || cap(b.enc) > batchKeepBytes {
		return
	}
	b.frames, b.enc = b.frames[:0], b.enc[:0]
	batchPool.Put(b)
}

// queued is how many frames wait; c.mu is held.
func (c *legacyConn) queued() int {
	if c.out == nil {
		return 0
	}
	return len(c.out.frames)
}

// push queues one event from the backend, leaving the write to Flush
// (session.Sink); the outbox's lock is held.
func (c *legacyConn) push(ev upstream.Event) error {
	switch ev.Kind {
	case upstream.KindMessage:
		return c.enqueue(nil, messageSize(ev.Channel, ev.Data), &ev, false)
	case upstream.KindLost:
		c.srv.errReplies.Add(1)
		return c.enqueueAnswer(legacy.Append(nil, legacy.Frame{
			Type: legacy.TypeError, Code: legacy.CodeSubscriptionLost, Message: lostMessage(ev.Data), Channel: ev.Channel,
		}), false)
	default:
		frame, err := upstream.AppendLegacyFrame(nil, ev.Name, 0, ev.Args)
		if err != nil {
			return err
		}
		if legacy.Known(ev.Name) && !carried(ev.Name, frame) {
			return c.srv.notCarried(c.id, ev.Name, "edge: event not carried to a legacy client: its name is a legacy frame type")
		}
		if ev.Answer != nil {
			c.srv.asksNotBridged.Add(1) // a legacy client cannot answer it
		}
		return c.enqueue(frame, len(frame), &ev, false)
	}
}

// carried says whether a custom event named like one of the protocol's
// frame types, whose frame is frame, goes to a legacy client. Only an
// error frame does, one the client decodes as such: a legacy backend's
// error that answers no request (upstream passes it on as an event), or
// another backend's "error" event shaped like one. Anything else would be
// a frame the client's decoder refuses (an ack or pong without id, a
// "message" that is no channel message, emit("error","oops")), or one it
// takes for what it is not: a channel message the session's seq rule
// never saw, a second welcome, a client's request.
func carried(name string, frame []byte) bool {
	if name != legacy.TypeError {
		return false
	}
	_, err := legacy.Decode(frame)
	return err == nil
}

// answerSlack is how far past the queue's bound answers may go, in
// frames (the bytes may go as far again past theirs). A legacy client has
// one request in flight at a time, so only one that keeps asking (pings)
// without reading its answers gets there, and is closed as slow.
const answerSlack = 8

// enqueueAnswer queues a frame the client must not miss (an answer to its
// request, or the loss of a subscription), if need be past the queue's
// bound (by answerSlack).
func (c *legacyConn) enqueueAnswer(b []byte, start bool) error {
	return c.enqueue(b, len(b), nil, start)
}

// enqueue queues frame, or applies the overflow rule to ev when it does
// not fit (by count or by bytes, as session.Queue); a nil frame is ev's
// message, encoded here, and a nil ev is an answer, with the answerSlack
// more room. Nothing is queued once the connection is closing or its
// reader has ended. start starts a writer; without it the caller owes a
// Flush.
func (c *legacyConn) enqueue(frame []byte, size int, ev *upstream.Event, start bool) error {
	lim := c.srv.opts.Edge.OutboundQueue
	if ev == nil {
		lim.Messages, lim.Bytes = lim.Messages+answerSlack, 2*lim.Bytes
	}
	c.mu.Lock()
	if c.closing || c.ended {
		c.mu.Unlock()
		return session.ErrQueueClosed
	}
	if c.queued()+1 > lim.Messages || c.bytes+size > lim.Bytes {
		c.mu.Unlock()
		if ev == nil {
			return c.overflow(upstream.Event{}) // not droppable: closes
		}
		return c.overflow(*ev)
	}
	if c.out == nil {
		c.out = batchPool.Get().(*outBatch)
	}
	if frame == nil {
		frame = c.out.encode(ev)
	}
	c.out.frames = append(c.out.frames, frame)
	c.bytes += size
	if start {
		c.startWriterLocked()
	}
	c.mu.Unlock()
	return nil
}

// encode encodes the message ev in b's buffer and returns the frame's
// payload.
func (b *outBatch) encode(ev *upstream.Event) []byte {
	start := len(b.enc)
	b.enc = legacy.AppendMessage(b.enc, ev.Channel, ev.Seq, ev.Data) // grown, the frames before keep the array they are in
	return b.enc[start:len(b.enc):len(b.enc)]
}

// overflow applies the configured rule to ev, which does not fit.
func (c *legacyConn) overflow(ev upstream.Event) error {
	if c.srv.opts.Edge.Overflow == config.OverflowDropNewest && droppable(ev) {
		c.srv.dropped.Add(1)
		return errDropped
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

func (c *legacyConn) sendLocked(f legacy.Frame) { _ = c.enqueueAnswer(legacy.Append(nil, f), true) }

func (c *legacyConn) pushFrame(b []byte) {
	c.box.mu.Lock()
	defer c.box.mu.Unlock()
	_ = c.enqueueAnswer(b, true)
}

// fail sends an error frame and counts it.
func (c *legacyConn) fail(id uint64, e replyError, channel string) {
	c.box.mu.Lock()
	defer c.box.mu.Unlock()
	c.failLocked(id, e, channel)
}

func (c *legacyConn) failLocked(id uint64, e replyError, channel string) {
	c.sendLocked(c.errorFrame(id, e, channel))
}

// errorFrame is the error answer to request id, counted.
func (c *legacyConn) errorFrame(id uint64, e replyError, channel string) legacy.Frame {
	c.srv.countReply(e)
	return legacy.Frame{Type: legacy.TypeError, ID: id, Code: e.code, Message: e.msg, Channel: channel}
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
	c.startWriterLocked()
	c.mu.Unlock()
	c.stopNow()
	return true
}

// startWriterLocked starts the writer unless one runs, there is nothing
// to do, the connection is not served yet (serveLegacy starts it then) or
// its reader has ended (finish waits for the writers, so none may start
// after). c.mu is held.
func (c *legacyConn) startWriterLocked() {
	if c.writing || !c.serving || c.ended || (!c.closing && c.queued() == 0) {
		return
	}
	c.writing = true
	c.writers.Add(1)
	c.srv.writers.run(c)
}

// writeLoop writes what is queued, a batch per round, until the queue is
// empty (then it exits) or the connection is closing (then it flushes,
// if asked to, and closes).
func (c *legacyConn) writeLoop() {
	defer c.writers.Done()
	// While the client waits for an answer, first let the goroutines that
	// are ready run once. An answer and a message often come in one
	// upstream read: the upstream reader readies the edge reader waiting
	// for the answer, then queues the message and starts this writer,
	// which the runtime runs first. Without the yield the message goes out
	// alone and the answer in a second write(2); with it, both go in one.
	if c.asking.Load() {
		runtime.Gosched()
	}
	yielded := false
	w := c.link.Writer()
	if err := w.WriteOwed(); err != nil { // what Flush could not write goes first
		c.srv.log.Debug("edge: legacy write failed", "session", c.id, "err", err)
		_ = c.ws.CloseNow() // unblocks the reader; writing stays set
		return
	}
	for {
		c.mu.Lock()
		if c.closing && (!c.closeFlush || c.queued() == 0) {
			code, reason := c.closeCode, c.closeReason
			c.mu.Unlock()
			c.closeHandshake(code, reason)
			return // writing stays set: no writer after the close
		}
		if c.ended || (c.queued() == 0 && !c.pingDue) {
			if !c.ended && !yielded {
				// Before exiting, let the goroutines that are ready
				// run once: during a fan-out the next message often
				// arrives meanwhile and joins this writer's next batch
				// instead of costing a writer and a write(2) of its own.
				c.mu.Unlock()
				yielded = true
				runtime.Gosched()
				continue
			}
			c.writing = false
			c.mu.Unlock()
			return
		}
		yielded = false
		batch, ping := c.out, c.pingDue
		c.out, c.bytes, c.pingDue = nil, 0, false
		if batch != nil {
			c.tookLocked()
		}
		c.mu.Unlock()

		err := w.Begin()
		if err == nil {
			if ping {
				w.Ping()
			}
			if batch != nil {
				frameBatch(w, batch.frames)
			}
			err = w.End()
		}
		putBatch(batch)
		if err != nil {
			c.srv.log.Debug("edge: legacy write failed", "session", c.id, "err", err)
			_ = c.ws.CloseNow() // unblocks the reader; writing stays set
			return
		}
	}
}

// frameBatch adds batch's frames to w's open batch.
func frameBatch(w *wsconn.Writer, batch [][]byte) {
	for _, p := range batch {
		w.Text(p)
	}
}

// inlineFlushMax bounds the queued bytes Flush writes itself: larger
// batches go to a pooled writer, keeping EndNoWait under wsconn's gather
// limit.
const inlineFlushMax = 16 << 10

// Flush implements session.Sink. It writes what is queued on the calling
// goroutine (most often the backend connection's reader) with a write(2)
// that does not wait, so that nothing is handed from goroutine to
// goroutine between the backend's socket and the client's. What the
// socket does not take, a batch past inlineFlushMax and a close go to a
// pooled writer; while one runs, Flush leaves the queue to it.
func (c *legacyConn) Flush() {
	c.mu.Lock()
	if c.writing || !c.serving || c.ended || (c.queued() == 0 && !c.closing) {
		c.mu.Unlock()
		return
	}
	if c.closing || c.bytes > inlineFlushMax {
		c.startWriterLocked()
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.writers.Add(1)
	batch := c.out
	c.out, c.bytes = nil, 0
	c.tookLocked()
	c.mu.Unlock()

	owed, err := c.writeNoWait(batch.frames)
	putBatch(batch)
	c.mu.Lock()
	switch {
	case err != nil:
		c.mu.Unlock()
		c.srv.log.Debug("edge: legacy write failed", "session", c.id, "err", err)
		_ = c.ws.CloseNow() // unblocks the reader; writing stays set
		c.writers.Done()
	case c.ended:
		c.mu.Unlock() // the reader has ended: finish closes the socket
		c.writers.Done()
	case owed || c.queued() > 0 || c.closing || c.pingDue:
		c.srv.writers.run(c) // writing stays set: the writer ends it, and its c.writers count
		c.mu.Unlock()
	default:
		c.writing = false
		c.mu.Unlock()
		c.writers.Done()
	}
}

// tookLocked tells the reader waiting in awaitWriter that a writer has
// taken the queue. c.mu is held.
func (c *legacyConn) tookLocked() {
	c.writerStuck = false
	if c.taken != nil {
		close(c.taken)
		c.taken = nil
	}
}

// collectWait bounds the reader's wait for the writer (see awaitWriter).
const collectWait = time.Second

// awaitWriter is the backpressure on a client's own traffic, run by the
// reader after each frame it handled. The answers and messages a client's
// requests cause are the gateway's doing, and a client that writes many
// requests at once and reads a moment later may cause more than its
// queue holds without being slow at all. So once the queue is over half
// its bounds (by either limit; answers and channel messages alike), the
// reader flushes it and reads no more of the client's requests until a
// writer has taken it, as TCP would make a writer wait. The other half is
// room for what the requests handled so far still bring (the answers and
// messages of the publishes in flight) and for the channels' traffic.
//
// The wait lasts while the writer writes: only a writer that wrote
// nothing for collectWait (a byte of its batch counts, as taking the
// queue does) is stuck on a client that does not read, and the reader
// goes on, with the overflow rule deciding, until a writer takes the
// queue again; so a client that asks without reading is still closed as
// a slow consumer. Writing half a queue to a client that reads slowly
// can take longer; that client is not stuck.
func (c *legacyConn) awaitWriter() {
	c.mu.Lock()
	wait := c.mustWaitLocked()
	c.mu.Unlock()
	if !wait {
		return
	}
	c.Flush() // the answers queued for a Flush go to the writer
	patience := c.srv.opts.writerWait
	timer := time.NewTimer(patience)
	defer timer.Stop()
	out := c.link.Writer()
	written := out.Written()
	c.mu.Lock()
	for c.mustWaitLocked() {
		if c.taken == nil {
			c.taken = make(chan struct{})
		}
		taken := c.taken
		c.mu.Unlock()
		select {
		case <-taken:
			timer.Reset(patience)
		case <-c.stop.Done():
			return
		case <-timer.C:
			if w := out.Written(); w != written {
				timer.Reset(patience) // writing a batch: not stuck
				written = w
				c.mu.Lock()
				continue
			}
			c.mu.Lock()
			c.writerStuck = true // until a writer takes the queue
			c.mu.Unlock()
			return
		}
		written = out.Written()
		c.mu.Lock()
	}
	c.mu.Unlock()
}

// mustWaitLocked reports whether the reader must wait for a writer to
// take the queue before it reads the client's next frame (see
// awaitWriter). c.mu is held.
func (c *legacyConn) mustWaitLocked() bool {
	lim := c.srv.opts.Edge.OutboundQueue
	return !c.closing && !c.ended && !c.writerStuck && (c.queued() > lim.Messages/2 || c.bytes > lim.Bytes/2)
}

// writeNoWait frames batch and writes it without waiting on the socket;
// owed says that a part is left for a writer that may wait.
func (c *legacyConn) writeNoWait(batch [][]byte) (owed bool, err error) {
	w := c.link.Writer()
	if err := w.Begin(); err != nil {
		return false, err
	}
	frameBatch(w, batch)
	return w.EndNoWait()
}

// closeHandshake closes with code and reason. The handshake needs the
// peer's close frame; when the reader is busy with a request it cannot
// read it, and a client may never send it, so the wait is bounded by the
// write timeout, then the socket is cut (wsconn.Link.Cut: CloseNow would
// only wait for the Close in progress, up to the library's 5 s). The
// link's gate keeps the reader from looking at the read buffer meanwhile.
func (c *legacyConn) closeHandshake(code websocket.StatusCode, reason string) {
	gate := c.link.Gate()
	gate.Lock()
	defer gate.Unlock()
	c.withinOrCut(c.srv.opts.WriteTimeout, func() { _ = c.ws.Close(code, reason) })
}

// withinOrCut runs step, a part of a close that waits on the peer or on
// a write in progress, for at most d; past it the socket is cut, which
// ends step's wait, and withinOrCut returns once step has.
func (c *legacyConn) withinOrCut(d time.Duration, step func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		step()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.link.Cut()
		<-done
	}
}
