package eio

import (
	"context"
	"net/http"

	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/coder/websocket"
)

// upgradeWebSocket handles a WebSocket opened for an existing session: the
// upgrade of a polling session. The client probes the new transport (ping
// "probe" → pong "probe"), the server releases the pending poll with a noop,
// and the client's upgrade packet switches the session over. Like Node, a
// WebSocket that cannot upgrade (the session already upgraded, is
// upgrading, or is closed) is accepted and closed at once.
func (s *Server) upgradeWebSocket(c *Conn, w http.ResponseWriter, r *http.Request, transport string) {
	c.mu.Lock()
	ok := transport == TransportWebSocket && !s.cfg.DisableUpgrades &&
		!c.closed && c.transport == TransportPolling && c.upgrade == upgradeNone
	if ok {
		c.upgrade = upgradeStarted
		// Shutdown waits for the upgrade, and its abort cuts it: a
		// graceful close lets it go on (see probe). The session is open,
		// so work is not zero.
		c.work.Add(1)
		defer c.work.Done()
	}
	c.mu.Unlock()

	ws, l, err := s.accept(w, r, false) // the client probes first
	if err != nil {
		if ok {
			c.resetUpgrade()
		}
		return
	}
	if !ok {
		c.closeLink(ws, l) // no longer than any close waits for the client
		return
	}
	if !c.setProbing(ws) || !c.probe(ws, l) {
		c.resetUpgrade()
		_ = ws.CloseNow()
	}
	c.mu.Lock()
	c.probing = nil
	c.mu.Unlock()
}

// setProbing makes ws the WebSocket that abort cuts, unless the session
// was aborted already.
func (c *Conn) setProbing(ws *websocket.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		return false
	}
	c.probing = ws
	return true
}

// resetUpgrade lets the client try again after a failed upgrade; the
// session stays on polling.
func (c *Conn) resetUpgrade() {
	c.mu.Lock()
	if c.upgrade != upgradeDone {
		c.upgrade = upgradeNone
	}
	c.mu.Unlock()
}

// probe runs the upgrade exchange on ws. It reports whether the session
// now uses ws (read on its own goroutine from then on), or ws is done
// with (see finishClosed).
//
// A failure of the session ends the exchange. A graceful close does not:
// a client that has its probe answered pauses polling and sends the
// upgrade packet, so that what the close left for the next poll reaches
// it only over ws, as Node delivers it (its upgrade goes on while the
// session is closing).
func (c *Conn) probe(ws *websocket.Conn, l *wsLink) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), c.srv.cfg.UpgradeTimeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, func() {
		c.mu.Lock()
		drain := c.drain
		c.mu.Unlock()
		if !drain {
			cancel()
		}
	})
	defer stop()
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil || typ != websocket.MessageText {
			return false
		}
		p, err := engineio.DecodeText(data)
		if err != nil {
			return false
		}
		switch {
		case p.Type == engineio.Ping && string(p.Data) == engineio.Probe:
			if !c.awaitPostDone(ctx) {
				return false
			}
			pong := engineio.AppendText(nil, engineio.Packet{Type: engineio.Pong, Data: []byte(engineio.Probe)})
			if ws.Write(ctx, websocket.MessageText, pong) != nil {
				return false
			}
			c.mu.Lock()
			if c.upgrade == upgradeStarted {
				c.upgrade = upgradeProbed
			}
			c.notifyPollLocked()
			c.mu.Unlock()
		case p.Type == engineio.Upgrade:
			if !c.attachWebSocket(ws, l, true) {
				c.finishClosed(ws, l)
			}
			return true
		default:
			return false
		}
	}
}

// awaitPostDone holds the answer to the client's probe while one of its
// POSTs is being handled. Once the probe is answered the client polls no
// more until it has upgraded, and it upgrades only once its POST is
// answered: a POST waiting for a GET to collect the queue (awaitCollect)
// would wait in vain. It reports false if ctx ends first.
func (c *Conn) awaitPostDone(ctx context.Context) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.posting {
		if c.postDone == nil {
			c.postDone = make(chan struct{})
		}
		done := c.postDone
		c.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			c.mu.Lock()
			return false
		}
		c.mu.Lock()
	}
	return true
}

// finishClosed completes the upgrade of a session that closed meanwhile:
// what its close left for the next poll goes over ws, which closes
// after it (the close packet's part), and the sid is done.
func (c *Conn) finishClosed(ws *websocket.Conn, l *wsLink) {
	c.mu.Lock()
	var last []engineio.Packet
	if c.drain && !c.finalTaken && len(c.final) > 1 {
		last = c.final[:len(c.final)-1] // the close packet is ws's close
	}
	c.final, c.finalTaken = nil, true
	c.mu.Unlock()
	c.srv.forget(c)
	if len(last) > 0 {
		var buf []byte
		if err := l.out.writeFrames([]outGroup{{packets: last}}, &buf); err != nil {
			_ = ws.CloseNow()
			return
		}
	}
	c.closeLink(ws, l)
}
