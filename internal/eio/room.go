package eio

import "context"

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
		if c.roomWake == nil {
			c.roomWake = make(chan struct{})
		}
		wake := c.roomWake
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

// wakeRoomLocked releases the senders waiting in WaitRoom once the writer
// has taken the queue. c.mu is held.
func (c *Conn) wakeRoomLocked() {
	if c.roomWake != nil {
		close(c.roomWake)
		c.roomWake = nil
	}
}
