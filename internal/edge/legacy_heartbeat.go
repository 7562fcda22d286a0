package edge

import (
	"time"

	"github.com/coder/websocket"
)

// Heartbeat of a legacy client, as the Engine.IO one is of a Socket.IO
// client (edge.ping_interval, edge.ping_timeout): every PingInterval the
// client is sent a WebSocket Ping, which its WebSocket library answers
// with a Pong by itself (browsers, coder/websocket, Node's ws); a client
// that then sends nothing at all, no Pong and no frame, for PingTimeout is
// taken for gone, as a process that froze leaves its connection (its
// kernel still acknowledges, and no FIN comes) or a NAT that dropped the
// flow: it is closed with 1001 "ping_timeout" and its session ends as at
// a disconnect. Any byte from the client counts (wsconn.Link.Reads).
//
// One timer per connection, made once and reset at each look, which runs
// at the next ping or at the ping timeout's end, whichever is first: no
// goroutine of its own. The ping goes out with the connection's writer's
// next batch (pingDue), past the outbound queue: a full queue does not
// hold it back, no second writer ever writes to the socket, and no
// goroutine that must not wait (a Flush) waits behind it. A client that
// has stopped reading is ended by the timeout, or by the write timeout.
//
// The client's requests are handled on its reader, which meanwhile reads
// nothing (a Pong waits behind a request that waits on a backend, for up
// to the request timeout): a look that finds the reader handling one
// takes the client for alive, as the Engine.IO heartbeat does.

// Close of a client silent past the ping timeout.
const (
	closePingTimeout  = websocket.StatusGoingAway // 1001 "ping_timeout"
	reasonPingTimeout = "ping_timeout"
)

// heartbeat is a legacy connection's heartbeat state, guarded by the
// connection's mu.
type heartbeat struct {
	t        *time.Timer
	nextPing time.Time
	// silentSince is when the first ping since the client was last heard
	// went out; zero when it has been heard since the last ping.
	silentSince time.Time
	reads       uint32 // the link's Reads at the last look
}

// startHeartbeat arms the first look, a ping interval from now.
func (c *legacyConn) startHeartbeat() {
	iv := c.srv.opts.Edge.PingInterval
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hb.nextPing = time.Now().Add(iv)
	c.hb.reads = c.link.Reads()
	c.hb.t = time.AfterFunc(iv, c.beat)
}

// stopHeartbeatLocked stops the looks; c.mu is held.
func (c *legacyConn) stopHeartbeatLocked() {
	if c.hb.t != nil {
		c.hb.t.Stop()
	}
}

// beat is one look: the client heard from since the last (or busy with a
// request) is alive; one silent for PingTimeout since a ping is closed;
// a ping due goes out; and the next look is armed.
func (c *legacyConn) beat() {
	e := c.srv.opts.Edge
	now := time.Now()
	c.mu.Lock()
	if c.ended || c.closing {
		c.mu.Unlock()
		return
	}
	hb := &c.hb
	if n := c.link.Reads(); n != hb.reads || c.handling.Load() {
		hb.reads, hb.silentSince = n, time.Time{}
	}
	if !hb.silentSince.IsZero() && !now.Before(hb.silentSince.Add(e.PingTimeout)) {
		c.mu.Unlock()
		c.closeSilent()
		return
	}
	ping := !now.Before(hb.nextPing)
	if ping {
		if hb.silentSince.IsZero() {
			hb.silentSince = now
		}
		// The next ping is due an interval after this one was, not after
		// this late look: a client judges the server by the pings' pace.
		if hb.nextPing = hb.nextPing.Add(e.PingInterval); hb.nextPing.Before(now) {
			hb.nextPing = now.Add(e.PingInterval)
		}
	}
	next := hb.nextPing
	if !hb.silentSince.IsZero() {
		if end := hb.silentSince.Add(e.PingTimeout); end.Before(next) {
			next = end
		}
	}
	hb.t.Reset(next.Sub(now))
	// The ping goes out with the writer's next batch: the writer that
	// runs (a write loop, or a Flush, which hands it to one) takes it;
	// when none does, this goroutine, which may wait, runs the write loop.
	run := false
	if ping {
		c.pingDue = true
		if !c.writing {
			c.writing, run = true, true
			c.writers.Add(1)
		}
	}
	c.mu.Unlock()
	if run {
		c.writeLoop()
	}
}

// closeSilent closes a client silent past the ping timeout: a close frame
// if the socket takes it now (the client has not read a ping's worth, so
// no close handshake is waited for), then the connection is cut, and the
// reader ends the session as at a disconnect.
func (c *legacyConn) closeSilent() {
	c.mu.Lock()
	if c.closing || c.ended {
		c.mu.Unlock()
		return
	}
	c.closing, c.closeCode, c.closeReason = true, closePingTimeout, reasonPingTimeout
	c.mu.Unlock()
	c.stopNow()
	c.srv.pingTimeouts.Add(1)
	c.srv.log.Info("edge: closing silent legacy client", "session", c.id, "ping_timeout", c.srv.opts.Edge.PingTimeout)
	// The close frame waits for a write in progress (the heartbeat's
	// last batch may still hold the writer), for silentCloseGrace at
	// most: one stuck on a full socket is ended by the cut.
	c.withinOrCut(silentCloseGrace, func() {
		c.link.Writer().CloseAfterWrite(closePingTimeout, reasonPingTimeout)
	})
	_ = c.ws.CloseNow()
}

// silentCloseGrace bounds how long a silent client's close frame waits
// for the writer.
const silentCloseGrace = time.Second
