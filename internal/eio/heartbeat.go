package eio

import (
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// Heartbeat (protocol v4): the server pings PingInterval after the session
// opens and after each pong; the client has PingTimeout to answer. Like
// Node, any other packet arriving while a pong is awaited pushes the
// deadline back once, because a busy polling client may send its pong in a
// later request.

func (c *Conn) startHeartbeat() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.pingTimer = time.AfterFunc(c.srv.cfg.PingInterval, c.ping)
}

func (c *Conn) ping() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.pingSeq++
	seq := c.pingSeq
	c.awaitingPong, c.pongExtended = true, false
	c.pongTimer = time.AfterFunc(c.srv.cfg.PingTimeout, func() { c.pongMissed(seq) })
	c.mu.Unlock()
	// A full queue closes the session as a slow consumer: nothing to add.
	_ = c.push([]engineio.Packet{{Type: engineio.Ping}})
}

func (c *Conn) pongMissed(seq uint64) {
	c.mu.Lock()
	missed := c.awaitingPong && c.pingSeq == seq && !c.closed
	c.mu.Unlock()
	if missed {
		c.fail(ErrPingTimeout, engineio.Close)
	}
}

func (c *Conn) onPong() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.awaitingPong = false
	if c.pongTimer != nil {
		c.pongTimer.Stop()
		c.pongTimer = nil
	}
	if c.pingTimer != nil {
		c.pingTimer.Reset(c.srv.cfg.PingInterval)
	}
}

func (c *Conn) refreshPongDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.awaitingPong && !c.pongExtended && c.pongTimer != nil {
		c.pongExtended = true
		c.pongTimer.Reset(c.srv.cfg.PingTimeout)
	}
}

func (c *Conn) stopHeartbeatLocked() {
	c.awaitingPong = false
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	if c.pongTimer != nil {
		c.pongTimer.Stop()
	}
}
