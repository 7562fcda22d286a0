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
	hijackReadSize  = 256
	hijackWriteSize = 256
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
	link    *wsLink // set by Hijack
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
	l := &wsLink{br: br}
	l.in.Conn = conn
	l.out = gatherWriter{conn: conn, timeout: h.timeout}
	h.link = l
	return &l.in, bufio.NewReadWriter(br, bufio.NewWriterSize(&l.out, hijackWriteSize)), nil
}

// wsLink is what a session keeps of its hijacked connection besides the
// websocket.Conn: the reader coder/websocket reads from, and the writer it
// writes to. One allocation per connection.
type wsLink struct {
	in  parkConn
	out gatherWriter
	br  *bufio.Reader // coder/websocket's read buffer (it reads via in)

	// gate orders looks at br from the session's reader against
	// websocket.Conn.Close, which reads br on another goroutine while it
	// waits for the client's close frame (see Conn.closeWebSocket).
	gate sync.Mutex
}

// buffered reports whether br holds bytes not yet read.
func (l *wsLink) buffered() bool {
	l.gate.Lock()
	defer l.gate.Unlock()
	return l.br.Buffered() > 0
}

// parkConn is the net.Conn coder/websocket reads from. Its wait blocks
// until the client sends something, on a short call chain: an idle
// session's reader parks there instead of deep inside websocket.Conn.Read,
// so its goroutine keeps the smallest stack (2 KiB instead of 4 KiB or
// more). What wait read is handed out first by Read.
type parkConn struct {
	net.Conn

	// mu is held across the blocking reads so that a read by wait and
	// one by coder/websocket (Close reading the close frame) never run at
	// once and bytes stay in order.
	mu   sync.Mutex
	one  [1]byte
	have bool  // one holds a byte read by wait
	err  error // wait's read failed; Read returns it
}

func (p *parkConn) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(b) == 0:
		return 0, nil
	case p.have:
		b[0], p.have = p.one[0], false
		return 1, nil
	case p.err != nil:
		return 0, p.err
	}
	return p.Conn.Read(b)
}

// wait blocks until a byte has arrived or the connection failed.
func (p *parkConn) wait() {
	p.mu.Lock()
	if !p.have && p.err == nil {
		n, err := p.Conn.Read(p.one[:])
		p.have = n == 1
		if n == 0 {
			p.err = err
		}
	}
	p.mu.Unlock()
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
