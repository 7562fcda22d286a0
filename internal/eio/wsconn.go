package eio

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// coder/websocket keeps the bufio.ReadWriter that Hijack returns for the
// life of the connection and flushes its writer after every frame. The
// types here give it a smaller reader and a writer that gathers frames:
// while the session's writer is inside a batch, flushes only append to a
// buffer and the batch goes out in one write(2); outside a batch (control
// frames such as pong and close, written from other goroutines) they go
// out at once.

const (
	// hijackReadSize and hijackWriteSize size the per-connection buffers
	// (net/http's are 4 KiB each, kept for as long as the connection
	// lives). Larger messages bypass them.
	hijackReadSize  = 512
	hijackWriteSize = 1024
	// gatherLimit bounds a batch's buffer: past it, the batch is written
	// out and gathering starts again.
	gatherLimit = 64 << 10
	// gatherKeep is the largest buffer returned to the pool.
	gatherKeep = 2 * gatherLimit
)

var errNoHijack = errors.New("eio: ResponseWriter cannot be hijacked")

// hijackResponse is the http.ResponseWriter handed to websocket.Accept.
type hijackResponse struct {
	http.ResponseWriter
	timeout time.Duration
	gather  *gatherWriter // set by Hijack
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (h *hijackResponse) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// Hijack takes over the connection and returns small buffers around it;
// net/http's own buffers are dropped.
func (h *hijackResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errNoHijack
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the client sent right after its handshake must stay in the
	// new reader's buffer: coder/websocket takes them from there.
	n := brw.Reader.Buffered()
	early, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(bytes.NewReader(bytes.Clone(early)), max(hijackReadSize, n))
	if n > 0 {
		_, _ = br.Peek(n)
	}
	h.gather = &gatherWriter{conn: conn, timeout: h.timeout}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(h.gather, hijackWriteSize)), nil
}

// gatherWriter writes to conn, at once or, between begin and end, in one
// write at the end. Every write to conn is bounded by timeout.
type gatherWriter struct {
	conn    net.Conn
	timeout time.Duration

	mu    sync.Mutex
	batch bool
	buf   *[]byte // from gatherPool while a batch holds data
}

var gatherPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

func (g *gatherWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.batch {
		return g.writeLocked(p)
	}
	if g.buf == nil {
		g.buf = gatherPool.Get().(*[]byte)
	}
	*g.buf = append(*g.buf, p...)
	if len(*g.buf) >= gatherLimit {
		if err := g.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// begin starts gathering.
func (g *gatherWriter) begin() {
	g.mu.Lock()
	g.batch = true
	g.mu.Unlock()
}

// end writes what was gathered and stops gathering.
func (g *gatherWriter) end() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.batch = false
	return g.flushLocked()
}

func (g *gatherWriter) flushLocked() error {
	if g.buf == nil {
		return nil
	}
	_, err := g.writeLocked(*g.buf)
	if cap(*g.buf) <= gatherKeep {
		*g.buf = (*g.buf)[:0]
		gatherPool.Put(g.buf)
	}
	g.buf = nil
	return err
}

func (g *gatherWriter) writeLocked(p []byte) (int, error) {
	if err := g.conn.SetWriteDeadline(time.Now().Add(g.timeout)); err != nil {
		return 0, err
	}
	return g.conn.Write(p)
}
