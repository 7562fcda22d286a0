package upstream

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-rt/baton/internal/expiry"
	"github.com/baton-rt/baton/internal/wsconn"
)

// sweep gives up the PublishAsync answers due by now (see expiry), runs
// the heartbeat when it is due, and returns the next deadline of either.
func (c *legacyConn) sweep(now time.Time) time.Time {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return time.Time{}
	}
	due, next := expiry.TakeDue(c.pending, now, func(w *waiter) time.Time { return w.due }) // a blocking request's due is zero
	ping, dead := c.beatLocked(now)
	if !c.beatAt.IsZero() && (next.IsZero() || c.beatAt.Before(next)) {
		next = c.beatAt
	}
	c.mu.Unlock()
	for _, w := range due {
		w.then(0, errNoAnswer)
	}
	if len(due) > 0 {
		c.h.Flush()
	}
	switch {
	case dead:
		_ = c.ws.CloseNow() // the reader ends, with c.silent
	case ping:
		c.ping()
	}
	return next
}

// beatLocked is the heartbeat's look at the connection, once beatAt has
// come; c.mu is held. A backend heard from since the last look is alive
// (next look in pingInterval); one silent since is pinged (next look in
// pingTimeout); one silent since its ping is presumed dead, as a backend
// process that froze is (its kernel still acknowledges, and no FIN comes):
// dead says to end the connection, and c.silent why.
func (c *legacyConn) beatLocked(now time.Time) (ping, dead bool) {
	if c.beatAt.IsZero() || now.Before(c.beatAt) {
		return false, false
	}
	heard := c.heard.Swap(false)
	if p, ok := c.ws.(wsconn.Pinger); ok {
		n := p.Pongs()
		heard = heard || n != c.pongs
		c.pongs = n
	}
	switch {
	case heard:
		c.pinged = false
		c.beatAt = now.Add(c.pingInterval)
	case c.pinged:
		c.beatAt = time.Time{}
		c.silent = fmt.Errorf("%w: no answer to a ping within %v", ErrHeartbeatTimeout, c.pingTimeout)
		return false, true
	default:
		c.pinged = true
		c.beatAt = now.Add(c.pingTimeout)
		return true, false
	}
	return false, false
}

// ping sends the heartbeat's ping: a WebSocket Ping, which any conforming
// server's WebSocket library answers with a Pong by itself, whatever the
// protocol it carries (a backend adapted through the mapping need not
// know the legacy protocol's ping request), and which a process that
// froze does not. A write that fails leaves the next look to find the
// backend silent.
//
// A wsconn.Client sends it and returns; its reader counts the pong, which
// the next look reads. A *websocket.Conn (dialed through
// Options.HTTPClient) has only a Ping that waits for the pong, which the
// read loop hands it; a goroutine waits, for at most pingTimeout.
func (c *legacyConn) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), c.pingTimeout)
	switch ws := c.ws.(type) {
	case wsconn.Pinger:
		_ = ws.SendPing(ctx)
		cancel()
	case interface{ Ping(context.Context) error }:
		go func() {
			defer cancel()
			if ws.Ping(ctx) == nil {
				c.heard.Store(true)
			}
		}()
	default:
		cancel()
	}
}
