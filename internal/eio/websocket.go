package eio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wsconn"
)

// accept upgrades r to a WebSocket. Origin is not checked, as in the Node
// server (WebSocket is not subject to CORS; CheckRequest can refuse).
// The returned wsLink carries ws's reads and writes (see wsconn.go).
//
// greets says the server writes first (the open packet of a session
// opened over WebSocket): the 101 then waits to go out with it.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, greets bool) (*websocket.Conn, *wsLink, error) {
	hw := &hijackResponse{Response: wsconn.Response{ResponseWriter: w, Timeout: s.cfg.WriteTimeout, HoldHeader: greets}}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil, nil, fmt.Errorf("eio: websocket accept: %w", err)
	}
	ws.SetReadLimit(int64(s.cfg.MaxPayload))
	return ws, hw.link, nil
}

// acceptWebSocket serves a session that was opened over WebSocket.
func (s *Server) acceptWebSocket(c *Conn, w http.ResponseWriter, r *http.Request) {
	ws, l, err := s.accept(w, r, true) // the open packet is queued
	if err != nil {
		c.fail(errors.Join(ErrTransport, err), engineio.Close)
		return
	}
	if !c.attachWebSocket(ws, l, false) {
		_ = l.out.w.WriteOwed() // the 101 waited for the open packet
		_ = ws.CloseNow()
	}
}

// attachWebSocket makes ws the session's transport and starts reading it
// on a goroutine of its own: ServeHTTP returns, so the request, net/http's
// connection state and the handler's grown stack are not kept for the
// life of the session. It reports false when the session closed meanwhile.
// upgraded counts it as an upgrade from polling, before the client can
// see any of its effects.
func (c *Conn) attachWebSocket(ws *websocket.Conn, l *wsLink, upgraded bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if upgraded {
		c.srv.upgrades.Add(1)
	}
	c.transport, c.ws, c.link, c.upgrade = TransportWebSocket, ws, l, upgradeDone
	c.work.Add(1) // the OnClose call is still pending, so work is not zero
	go c.readLoop(ws, l)
	c.startWriterLocked()
	c.notifyPollLocked()
	return true
}

// startWriterLocked starts the WebSocket writer unless it is running or
// has nothing to do. There is no writer while the queue is empty: an idle
// session costs no goroutine stack. The writer only stops with c.mu held
// after finding the queue empty, and push calls this after queuing, so no
// packet is left behind. Once the session has closed, the writer that
// carries out the close keeps c.writing set, so none starts after it.
// c.mu is held.
func (c *Conn) startWriterLocked() {
	if c.ws == nil || c.writing || (!c.closed && !c.queued()) {
		return
	}
	c.writing = true
	c.work.Add(1) // only while the session's work is not zero (see push, closeWith)
	go c.writeLoop(c.ws, &c.link.out)
}

// readLoop delivers the client's packets. It holds one unit of c.work,
// handed on to the goroutine that follows it. It does not watch the
// session's context: the writer closes ws once it has flushed, which ends
// the read. Once it has handled what one read brought, it flushes what
// the Handler held (SendHeld).
//
// An idle session costs little: between bursts the reader parks in
// wsconn.Link.Wait, on a short call chain, and now and then
// (wsconn.Renewal: at its first wait, then at most once per renewal
// period) a fresh goroutine takes over to park, so the stack that
// reading and the Handler grew is released; a busy session keeps its
// goroutine rather than start one per burst.
func (c *Conn) readLoop(ws *websocket.Conn, l *wsLink) {
	for {
		if !l.buffered() {
			l.in.wait()
		}
		for {
			typ, data, err := ws.Read(context.Background())
			if err != nil {
				c.readFailed(err)
				c.work.Done()
				return
			}
			c.receiveMessage(typ, data)
			if !c.awaitCollect() {
				break // closed: the next read fails
			}
			if !l.buffered() {
				break
			}
		}
		c.Flush() // what the Handler answered with SendHeld
		if c.renew.Due() {
			go c.readLoop(ws, l)
			return
		}
	}
}

// receiveMessage handles one WebSocket message from the client.
func (c *Conn) receiveMessage(typ websocket.MessageType, data []byte) {
	if typ == websocket.MessageBinary {
		c.receive(engineio.DecodeBinary(data))
		return
	}
	p, err := engineio.DecodeText(data)
	if err != nil {
		// Keep reading until the writer closes ws.
		c.fail(fmt.Errorf("%w: %w", ErrParse, err), engineio.Close)
		return
	}
	c.receive(p)
}

func (c *Conn) readFailed(err error) {
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		c.fail(fmt.Errorf("%w: %w", ErrTransport, err), engineio.Close)
	case websocket.CloseStatus(err) != -1:
		c.fail(ErrClientClose, engineio.Close)
	default:
		c.fail(fmt.Errorf("%w: %w", ErrTransport, err), engineio.Close)
	}
}

// writeLoop sends everything queued, one batch per round, until the queue
// is empty (then it exits) or the session has closed (then it flushes, for
// a graceful close, and closes ws).
func (c *Conn) writeLoop(ws *websocket.Conn, g *gatherWriter) {
	defer c.work.Done()
	var (
		groups  []outGroup
		buf     []byte
		yielded bool
	)
	if err := g.w.WriteOwed(); err != nil { // what Flush could not write goes first
		c.writeFailed(ws, err)
		return
	}
	for {
		c.mu.Lock()
		closed, drain := c.closed, c.drain
		if !closed && !c.queued() && !yielded {
			// Before exiting, let the goroutines that are ready run
			// once: during a fan-out the next message often arrives
			// meanwhile, and goes out in this writer's next batch
			// instead of costing a new writer and a write(2) of its own.
			c.mu.Unlock()
			yielded = true
			runtime.Gosched()
			continue
		}
		yielded = false
		if !closed && !c.queued() {
			c.writing = false
			if cap(c.queue) > idleQueueKeep {
				c.queue = nil // an idle session keeps no large array
			}
			c.mu.Unlock()
			return
		}
		groups = c.swapQueueLocked(groups)
		c.mu.Unlock()
		if !closed || drain {
			if err := g.writeFrames(groups, &buf); err != nil {
				c.writeFailed(ws, err)
				return
			}
		}
		clear(groups) // drop references to sent data
		if closed {
			c.closeWebSocket(ws)
			return
		}
	}
}

// writeFailed closes the session after a failed write. The writer's
// flag stays set, so that no writer starts after it.
func (c *Conn) writeFailed(ws *websocket.Conn, err error) {
	c.fail(fmt.Errorf("%w: write: %w", ErrTransport, err), engineio.Close)
	_ = ws.CloseNow()
}

// inlineFlushMax bounds the queued bytes Flush writes itself: larger
// batches go to the writer goroutine, keeping EndNoWait under wsconn's
// gather limit.
const inlineFlushMax = 16 << 10

// scratchPool holds Flush's buffers for encoding packets (frames queued
// with SendFrame need none).
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// Flush writes what is queued on the calling goroutine, with one write(2)
// that does not wait for the socket, so that what a caller queued with
// SendHeld (a message read from a backend, an answer of the reader's
// Handler) reaches the client without passing to another goroutine. What
// the socket does not take, a batch past inlineFlushMax and a close go to
// the writer goroutine; while one runs, Flush leaves the queue to it. On
// long-polling there is nothing to write: the waiting poll takes the
// queue.
func (c *Conn) Flush() {
	c.mu.Lock()
	if c.ws == nil || c.writing || c.closed || !c.queued() {
		c.mu.Unlock()
		return
	}
	if c.queueBytes > inlineFlushMax {
		c.startWriterLocked()
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.work.Add(1) // as startWriterLocked: the session is open, so work is not zero
	ws, g := c.ws, &c.link.out
	groups := c.swapQueueLocked(nil)
	c.mu.Unlock()

	bp := scratchPool.Get().(*[]byte)
	owed, err := g.writeFramesNoWait(groups, bp)
	if cap(*bp) <= idleScratchKeep {
		scratchPool.Put(bp)
	}
	clear(groups) // drop references to sent data
	c.mu.Lock()
	if c.queue == nil && cap(groups) <= idleQueueKeep {
		c.queue = groups[:0] // the queue keeps its array, as after a writer
	}
	switch {
	case err != nil:
		c.mu.Unlock()
		c.writeFailed(ws, err)
		c.work.Done()
	case owed || c.queued() || c.closed:
		go c.writeLoop(ws, g) // writing stays set; the work unit is the writer's now
		c.mu.Unlock()
	default:
		c.writing = false
		c.mu.Unlock()
		c.work.Done()
	}
}

// idleScratchKeep is the largest encoding buffer Flush hands back.
const idleScratchKeep = 4 << 10

// idleQueueKeep is the largest queue array an idle session keeps.
const idleQueueKeep = 16

// closeGrace is how long a close handshake may wait for the client's
// close frame before the connection is cut, so that unresponsive peers
// cannot stall Shutdown.
const closeGrace = time.Second

// closeWebSocket ends ws with the close code matching the session's
// reason, waiting at most closeGrace for the client's close frame.
func (c *Conn) closeWebSocket(ws *websocket.Conn) {
	c.mu.Lock()
	l := c.link
	c.mu.Unlock()
	c.closeLink(ws, l)
}

// closeLink is closeWebSocket for ws over l.
func (c *Conn) closeLink(ws *websocket.Conn, l *wsLink) {
	code := websocket.StatusNormalClosure
	if errors.Is(c.Err(), ErrShutdown) {
		code = websocket.StatusGoingAway
	}
	// While Close reads the client's close frame, the reader must not
	// look at the read buffer (see wsconn.Link.Gate).
	l.gate.Lock()
	defer l.gate.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ws.Close(code, "")
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		l.cut() // ws.CloseNow would wait for Close
		<-done
	}
}

// abort cuts the session's WebSocket, and that of an upgrade in progress,
// without a close handshake (Shutdown past its deadline).
func (c *Conn) abort() {
	c.fail(ErrShutdown, engineio.Close)
	c.mu.Lock()
	c.aborted = true
	ws, probing := c.ws, c.probing
	c.mu.Unlock()
	if ws != nil {
		_ = ws.CloseNow()
	}
	if probing != nil {
		_ = probing.CloseNow()
	}
}
