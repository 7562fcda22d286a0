package eio

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// bodyTimeout bounds reading one POST body (Node's httpRequestBodyTimeout).
const bodyTimeout = 30 * time.Second

// servePolling handles a request addressed to an existing polling session.
func (c *Conn) servePolling(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		c.poll(w, r)
	case http.MethodPost:
		c.post(w, r)
	default:
		// What Node answers for other methods on a polling session.
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// upgradeSettle is how long a poll that arrives while an upgrade is in
// progress waits for the upgrade to complete before it may be released
// with a noop (Node checks every 100 ms).
const upgradeSettle = 100 * time.Millisecond

// poll answers a GET with every queued packet, waiting until there is one.
// A second GET while one waits is a protocol error that closes the session
// (the waiting GET then receives the close packet).
func (c *Conn) poll(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.transport != TransportPolling {
		c.mu.Unlock()
		requestError{code: codeBadRequest}.writeHTTP(w)
		return
	}
	if c.pollWake != nil {
		c.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		c.fail(fmt.Errorf("%w: overlapping polls", ErrTransport), engineio.Close)
		return
	}
	wake := make(chan struct{}, 1)
	c.pollWake = wake
	// A client that is upgrading stops polling once the probe succeeds, so
	// a poll arriving during an upgrade may be racing the upgrade packet:
	// let the upgrade settle first, and refuse the poll if it completed.
	var settle <-chan time.Time
	if c.upgrade == upgradeStarted || c.upgrade == upgradeProbed {
		t := time.NewTimer(upgradeSettle)
		defer t.Stop()
		settle = t.C
	}
	for {
		out, ok := c.pollPayloadLocked(settle != nil)
		if ok && settle != nil && c.transport != TransportPolling && !c.closed {
			c.pollWake = nil
			c.mu.Unlock()
			requestError{code: codeBadRequest}.writeHTTP(w)
			return
		}
		if ok {
			c.pollWake = nil
			done := c.finalTaken
			c.mu.Unlock()
			if done {
				// The final payload is out: the sid is done.
				c.srv.forget(c)
			}
			// Bounded like a WebSocket write: a client that does not read
			// its poll must not hold this goroutine and the payload.
			rc := http.NewResponseController(w)
			_ = rc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			err := writePayload(w, out)
			_ = rc.SetWriteDeadline(time.Time{}) // the connection may serve more requests
			if err != nil {
				// The packets the poll took are lost: end the session
				// rather than go on with a gap.
				c.fail(fmt.Errorf("%w: writing poll: %w", ErrTransport, err), engineio.Close)
			}
			return
		}
		c.mu.Unlock()
		select {
		case <-wake:
		case <-settle:
			settle = nil
		case <-r.Context().Done():
			c.mu.Lock()
			c.pollWake = nil
			c.mu.Unlock()
			c.fail(fmt.Errorf("%w: poll closed prematurely", ErrTransport), engineio.Close)
			return
		}
		c.mu.Lock()
	}
}

// pollPayloadLocked returns what a waiting GET should answer with now, if
// anything. While settling, a probed upgrade does not release the poll.
func (c *Conn) pollPayloadLocked(settling bool) ([]engineio.Packet, bool) {
	switch {
	case c.closed:
		out := c.final
		switch {
		case c.finalTaken || out == nil:
			out = []engineio.Packet{{Type: engineio.Close}}
		case len(out) > 1:
			// As Node does, the packets queued before a server-side
			// close go out in one poll and the close packet in the
			// next: a client handles the packets of one payload in
			// order, but socket.io-client acts on a Socket.IO packet
			// (a DISCONNECT) only after the payload's close packet.
			c.final = out[len(out)-1:]
			return out[:len(out)-1], true
		}
		c.finalTaken = true
		return out, true
	case c.transport != TransportPolling:
		// Upgraded: what is queued now belongs to the WebSocket.
		return []engineio.Packet{{Type: engineio.Noop}}, true
	case c.queued():
		return c.takeAll(), true
	case c.upgrade == upgradeProbed && !settling:
		// The client is switching to WebSocket: release its poll so that
		// it can pause polling and send the upgrade packet.
		return []engineio.Packet{{Type: engineio.Noop}}, true
	}
	return nil, false
}

func writePayload(w http.ResponseWriter, ps []engineio.Packet) error {
	body := engineio.AppendPayload(nil, ps)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// post reads a payload of packets from the client and handles them in
// order. As in Node, a payload that does not decode still gets "ok" (the
// packets before the bad one are handled) and the session closes.
func (c *Conn) post(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") == "application/octet-stream" {
		// Protocol v4 sends binary as base64 text on polling.
		w.WriteHeader(http.StatusBadRequest)
		c.fail(fmt.Errorf("%w: binary POST body", ErrTransport), engineio.Close)
		return
	}
	c.mu.Lock()
	if c.posting {
		c.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		c.fail(fmt.Errorf("%w: overlapping POSTs", ErrTransport), engineio.Close)
		return
	}
	c.posting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.posting = false
		if c.postDone != nil {
			close(c.postDone) // see awaitPostDone
			c.postDone = nil
		}
		c.mu.Unlock()
	}()

	limit := c.srv.cfg.MaxPayload
	if r.ContentLength > int64(limit) {
		c.tooLarge(w)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyTimeout))
	// Like Node, which destroys a pending POST when its session closes,
	// the session's end cuts the read short.
	cut := make(chan struct{})
	stop := context.AfterFunc(c.ctx, func() {
		defer close(cut)
		_ = rc.SetReadDeadline(time.Now())
	})
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if !stop() {
		<-cut // it must not touch the connection once the handler returns
	}
	if err != nil {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest)
		c.fail(fmt.Errorf("%w: reading POST: %w", ErrTransport, err), engineio.Close)
		return
	}
	if len(body) > limit {
		c.tooLarge(w)
		return
	}
	c.handlePayload(body)
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

func (c *Conn) tooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	c.fail(fmt.Errorf("%w: payload too large", ErrTransport), engineio.Close)
}

// handlePayload delivers the packets of one POST body in order, each once
// the client has collected enough of what the ones before it caused (see
// awaitCollect). Answers the Handler held (SendHeld) are taken by the next
// poll, or written by Flush if the session has moved to WebSocket
// meanwhile.
func (c *Conn) handlePayload(body []byte) {
	defer c.Flush()
	for p, err := range engineio.Packets(body) {
		if c.ctx.Err() != nil {
			return
		}
		if err != nil {
			c.fail(fmt.Errorf("%w: %w", ErrParse, err), engineio.Close)
			return
		}
		if !c.awaitCollect() {
			return
		}
		c.receive(p)
	}
}
