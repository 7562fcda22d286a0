package eio

import (
	"errors"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// Heartbeat (protocol v4): the server pings PingInterval after the session
// opens, and once a pong came, PingInterval after the last ping (below);
// the client has PingTimeout to answer. Like
// Node, any other packet arriving while a pong is awaited pushes the
// deadline back once, because a busy polling client may send its pong in a
// later request.
//
// Deadlines are kept as times, not only as timers: a request that arrives
// after the deadline finds the session expired even if the timer has not
// fired yet (timers run late on a busy machine, and the protocol test
// suite probes exactly at pingInterval + pingTimeout).
//
// A pong cannot be read while a Handler's OnMessage runs on the reader
// (over WebSocket it waits behind it; a polling client cannot send it until
// its POST is answered), and the handler may wait on a backend for longer
// than the ping timeout; so may a POST waiting for the client to collect
// its queue (awaitCollect). That time is the server's, not the client's: a
// deadline that passes meanwhile is not judged until the call returns, and
// the client then has PingTimeout again.
//
// The client judges the server the same way: the official client closes a
// connection on which no ping came for PingInterval + PingTimeout. So a
// ping is due PingInterval after the last one was, not after its pong was
// read (a pong read late, behind a handler, would hold the next ping back
// past the client's deadline), and while a handler keeps the pong unread
// past its deadline the client is pinged again every PingInterval.

func (c *Conn) startHeartbeat() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.nextPing = time.Now().Add(c.srv.cfg.PingInterval)
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
	// Measured from when the ping was due, so a late timer does not
	// stretch the session's life.
	c.pongDeadline = c.nextPing.Add(c.srv.cfg.PingTimeout)
	c.pongTimer = time.AfterFunc(time.Until(c.pongDeadline), func() { c.pongMissed(seq) })
	c.mu.Unlock()
	// The one ping outstanding goes past the queue's bounds: a client that
	// drains its queue slowly (kept under drop_newest) answers it in time,
	// and one that stopped reading is ended by the pong timeout.
	_ = c.enqueue(outGroup{packets: []engineio.Packet{{Type: engineio.Ping}}}, queueAnyway, false)
}

func (c *Conn) pongMissed(seq uint64) {
	c.mu.Lock()
	if c.awaitingPong && c.pingSeq == seq && !c.closed && c.handling && c.pingTimer != nil &&
		!time.Now().Before(c.pongDeadline) {
		// The pong may be waiting behind the handler: not judged, but the
		// client, which hears nothing else, is pinged again, PingInterval
		// after the last ping. A deadline moved since (setHandling,
		// refreshPongDeadline) that passes during a later handler finds
		// that ping scheduled already: it must not push it back.
		if !c.nextPing.After(time.Now()) {
			c.nextPing = c.nextPing.Add(c.srv.cfg.PingInterval)
			c.pingTimer.Reset(max(time.Until(c.nextPing), 0))
		}
		c.mu.Unlock()
		return
	}
	// A deadline moved later (setHandling) finds this timer reset; one
	// that fired meanwhile must not judge the old deadline.
	missed := c.awaitingPong && c.pingSeq == seq && !c.closed && !c.handling && !time.Now().Before(c.pongDeadline)
	c.mu.Unlock()
	if missed {
		c.timeOut()
	}
}

// expired reports whether the heartbeat deadline has passed, whether or
// not its timer has fired; it closes the session if so. A session the
// timer has closed already is expired too, also in the moment before the
// server forgets its sid.
func (c *Conn) expired() bool {
	now := time.Now()
	c.mu.Lock()
	timedOut := c.closed && errors.Is(c.reason, ErrPingTimeout)
	late := !c.closed && ((c.awaitingPong && !c.handling && now.After(c.pongDeadline)) ||
		(!c.awaitingPong && c.pingTimer != nil && now.After(c.nextPing.Add(c.srv.cfg.PingTimeout))))
	c.mu.Unlock()
	if late {
		c.timeOut()
	}
	return late || timedOut
}

// timeOut closes the session for a missed pong, and counts it once.
func (c *Conn) timeOut() {
	if c.closeWith(ErrPingTimeout, false, engineio.Close) {
		c.srv.pingTimeouts.Add(1)
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
	// The next ping is due PingInterval after the last one was, or at once
	// if that has passed; one already scheduled (pongMissed) stays.
	if now := time.Now(); c.pingTimer != nil && !c.nextPing.After(now) {
		c.nextPing = c.nextPing.Add(c.srv.cfg.PingInterval)
		if c.nextPing.Before(now) {
			c.nextPing = now
		}
		c.pingTimer.Reset(c.nextPing.Sub(now))
	}
}

// setHandling marks an OnMessage call's start and end. At its end, a pong
// deadline that passed during it is moved to PingTimeout from now.
func (c *Conn) setHandling(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handling = on
	if on || !c.awaitingPong || c.closed || c.pongTimer == nil {
		return
	}
	if now := time.Now(); now.After(c.pongDeadline) {
		c.pongDeadline = now.Add(c.srv.cfg.PingTimeout)
		c.pongTimer.Reset(c.srv.cfg.PingTimeout)
	}
}

func (c *Conn) refreshPongDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.awaitingPong && !c.pongExtended && c.pongTimer != nil {
		c.pongExtended = true
		c.pongDeadline = time.Now().Add(c.srv.cfg.PingTimeout)
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
