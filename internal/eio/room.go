package eio

import (
	"context"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// WaitRoom blocks until packets more Send calls carrying bytes bytes in
// total would fit the outbound queue's bounds (QueuePackets, QueueBytes),
// the session closes (ErrClosed), or ctx is done. It is flow control for a
// sender with much to send, such as a replay of history, that would rather
// wait for the client to read than trip the slow-consumer rule. Room is not
// reserved: other senders may take it first. Requests beyond a bound are
// clamped to it, so they wait for an empty queue.
func (c *Conn) WaitRoom(ctx context.Context, packets, bytes int) error {
	packets = min(packets, c.srv.cfg.QueuePackets)
	bytes = min(bytes, c.srv.cfg.QueueBytes)
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if len(c.queue)+packets <= c.srv.cfg.QueuePackets && c.queueBytes+bytes <= c.srv.cfg.QueueBytes {
			c.mu.Unlock()
			return nil
		}
		wake := c.roomWakeLocked()
		c.mu.Unlock()
		select {
		case <-wake:
		case <-c.ctx.Done():
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Queued reports the outbound queue's length, in packets and bytes.
func (c *Conn) Queued() (packets, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), c.queueBytes
}

// roomWakeLocked returns the channel closed when the writer next takes the
// queue. c.mu is held.
func (c *Conn) roomWakeLocked() <-chan struct{} {
	if c.roomWake == nil {
		c.roomWake = make(chan struct{})
	}
	return c.roomWake
}

// wakeRoomLocked releases the senders waiting in WaitRoom once the writer
// has taken the queue. c.mu is held.
func (c *Conn) wakeRoomLocked() {
	c.writerStuck = false
	if c.roomWake != nil {
		close(c.roomWake)
		c.roomWake = nil
	}
}

// awaitCollect is the backpressure on a client's own traffic: the answers
// and messages its requests cause are the server's doing, and may be more
// than the outbound queue holds without the client being slow at all, so
// while the queue is over a share of its bounds (QueuePackets, QueueBytes)
// the reader handles no more of the client's packets until the queue has
// been taken. It runs before each packet the client sent.
//
// On polling (with no probed upgrade: the probe is answered between POSTs,
// see awaitPostDone) the client reads only with its GETs, which the
// official clients keep sending while a POST is pending, so one POST of
// many requests (up to MaxPayload) waits for a GET once the queue is over
// a quarter of its bounds. The other three quarters are room for what the
// requests handled so far still bring: a request may have its answer
// queued and as much again on its way (a publish's ack, then its
// message), and the client's other traffic goes on. A client that takes
// nothing for PingTimeout is closed as a slow consumer (ErrSlowConsumer).
//
// On WebSocket the answers held so far are flushed and, once the queue is
// over half its bounds, the reader waits for the writer to take it, as TCP
// would make a writer wait: a client that writes many requests and reads
// a moment later is slowed down, not closed. The wait lasts while the
// writer writes: only a writer that wrote nothing for collectWait (a
// second; see Config.collectWait) is stuck on a client that does not read, and the
// reader goes on, with the ordinary overflow rule deciding, until the
// writer takes the queue again. (Writing half a queue to a client that
// reads slowly can take longer; that client is not stuck.)
//
// The ordinary overflow rule applies to every Send meanwhile. The pong
// the client cannot get through while the reader waits is not due, as
// during OnMessage (see the heartbeat). It reports false if the session
// closed.
func (c *Conn) awaitCollect() bool {
	c.mu.Lock()
	if !c.mustCollectLocked() {
		c.mu.Unlock()
		return true
	}
	c.handling = true
	polling := c.transport == TransportPolling
	c.mu.Unlock()
	defer c.setHandling(false)
	wait := c.srv.cfg.collectWait
	if polling {
		wait = c.srv.cfg.PingTimeout
	} else {
		c.Flush() // the answers held so far go to the writer
	}
	c.mu.Lock()
	ranOut := c.awaitTakenLocked(c.mustCollectLocked, wait)
	if ranOut && !polling {
		c.writerStuck = true // until the writer takes the queue
	}
	closed := c.closed
	c.mu.Unlock()
	if ranOut && polling {
		c.srv.slowConsumers.Add(1)
		c.fail(ErrSlowConsumer, engineio.Close)
		return false
	}
	return !closed
}

// awaitTakenLocked waits while must holds for the client to take the
// queue, and reports whether it ran out: the client took nothing for wait,
// neither the queue (a GET, or the writer starting a batch) nor a byte
// of the batch the writer is writing. A writer can take longer than wait
// over half a queue for a client that reads slowly but reads; it is not
// stuck. c.mu is held, and released while waiting.
func (c *Conn) awaitTakenLocked(must func() bool, wait time.Duration) (ranOut bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	written := c.writtenLocked()
	for must() {
		wake := c.roomWakeLocked()
		c.mu.Unlock()
		select {
		case <-wake:
			timer.Reset(wait)
		case <-c.ctx.Done(): // closed: must no longer holds
		case <-timer.C:
			c.mu.Lock()
			if w := c.writtenLocked(); w != written {
				written = w
				timer.Reset(wait)
				continue
			}
			return true
		}
		c.mu.Lock()
		written = c.writtenLocked()
	}
	return false
}

// writtenLocked is what the WebSocket writer has written so far (see
// wsconn.Writer.Written); nothing on polling, where a GET takes the whole
// queue at once. c.mu is held.
func (c *Conn) writtenLocked() uint64 {
	if c.link == nil {
		return 0
	}
	return c.link.out.w.Written()
}

// defaultCollectWait bounds a WebSocket reader's wait for its writer (see
// awaitCollect).
const defaultCollectWait = time.Second

// mustCollectLocked reports whether the reader must wait for the client to
// take its queue before it handles the client's next packet (see
// awaitCollect). c.mu is held.
func (c *Conn) mustCollectLocked() bool {
	switch {
	case c.closed:
		return false
	case c.transport == TransportPolling:
		return c.upgrade != upgradeProbed && c.overLocked(4)
	}
	return c.paceLocked()
}

// overLocked reports whether the queue is over 1/share of either bound.
// c.mu is held.
func (c *Conn) overLocked(share int) bool {
	return len(c.queue) > c.srv.cfg.QueuePackets/share || c.queueBytes > c.srv.cfg.QueueBytes/share
}

// Pace makes a sender with much to send for this client (the gateway's
// backend reader during a replay, say) wait while the queue is over half
// its bounds, until the client has taken it: the writer on WebSocket, a
// GET on polling. A client that took nothing in collectWait (not even a
// byte of the writer's batch: see awaitTakenLocked) is not reading, and
// Pace returns, leaving the overflow rule to decide, without waiting
// again until the client takes the queue.
func (c *Conn) Pace() {
	c.mu.Lock()
	pace := c.paceLocked()
	c.mu.Unlock()
	if !pace {
		return
	}
	c.Flush()
	c.mu.Lock()
	if c.awaitTakenLocked(c.paceLocked, c.srv.cfg.collectWait) {
		c.writerStuck = true // until the client takes the queue
	}
	c.mu.Unlock()
}

// Behind reports whether Pace would wait now: the client has not taken
// enough of its queue.
func (c *Conn) Behind() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paceLocked()
}

// paceLocked reports whether Pace, or a WebSocket reader (see
// awaitCollect), must wait. c.mu is held.
func (c *Conn) paceLocked() bool {
	return !c.closed && !c.writerStuck && c.overLocked(2)
}
