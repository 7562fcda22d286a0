package eio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// coder/websocket keeps the bufio.ReadWriter that Hijack returns for the
// life of the connection. The types here give it small buffers, a reader
// that lets an idle session wait on a short stack (parkConn), and a writer
// (gatherWriter) that also frames the session's messages itself, a batch
// at a time in one write(2).

const (
	// hijackReadSize and hijackWriteSize size the per-connection buffers
	// (net/http's are 4 KiB each, kept for as long as the connection
	// lives). Larger messages bypass them.
	hijackReadSize  = 256
	hijackWriteSize = 128 // holds any control frame whole (see gatherWriter.Write)
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

// gatherWriter is the only writer of the connection. coder/websocket's own
// frames (pong, close, the upgrade probe's reply) go out at once through
// Write; the session's messages are framed by writeFrames straight into
// one buffer per batch, which goes out in one write(2), without
// coder/websocket's per-frame locking and copying. Both hold mu, so frames
// never interleave. Every write to conn is bounded by timeout.
type gatherWriter struct {
	conn    net.Conn
	timeout time.Duration

	mu        sync.Mutex
	closeSent bool // a close frame went out: no message may follow it
}

var gatherPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

// WebSocket frame opcodes (RFC 6455, section 5.2).
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
)

// Write takes one whole frame from coder/websocket: it flushes after each
// frame, and its frames other than messages (which go through
// writeFrames) are control frames, which fit the hijack write buffer.
func (g *gatherWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(p) > 0 && p[0]&0x0f == opClose {
		g.closeSent = true
	}
	return g.writeLocked(p)
}

// writeFrames writes groups as WebSocket messages in one write (several
// past gatherLimit). scratch is the caller's buffer for encoding packets.
func (g *gatherWriter) writeFrames(groups []outGroup, scratch *[]byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closeSent {
		return net.ErrClosed
	}
	bp := gatherPool.Get().(*[]byte)
	buf := (*bp)[:0]
	var err error
	for _, grp := range groups {
		if grp.frame != nil {
			buf, err = g.appendFrame(buf, opText, grp.frame)
		}
		for _, p := range grp.packets {
			if err != nil {
				break
			}
			if p.Binary {
				buf, err = g.appendFrame(buf, opBinary, p.Data)
				continue
			}
			*scratch = engineio.AppendText((*scratch)[:0], p)
			buf, err = g.appendFrame(buf, opText, *scratch)
		}
		if err != nil {
			break
		}
	}
	if err == nil && len(buf) > 0 {
		_, err = g.writeLocked(buf)
	}
	if cap(buf) <= gatherKeep {
		*bp = buf[:0]
		gatherPool.Put(bp)
	}
	return err
}

// appendFrame appends one final, unmasked frame to buf, writing buf out
// when it reaches gatherLimit; a payload that large is written from where
// it is rather than copied.
func (g *gatherWriter) appendFrame(buf []byte, op byte, payload []byte) ([]byte, error) {
	buf = appendFrameHeader(buf, op, len(payload))
	if len(payload) < gatherLimit {
		buf = append(buf, payload...)
		if len(buf) < gatherLimit {
			return buf, nil
		}
		_, err := g.writeLocked(buf)
		return buf[:0], err
	}
	if _, err := g.writeLocked(buf); err != nil {
		return buf[:0], err
	}
	_, err := g.writeLocked(payload)
	return buf[:0], err
}

// appendFrameHeader appends the header of a final, unmasked frame.
func appendFrameHeader(buf []byte, op byte, n int) []byte {
	buf = append(buf, 0x80|op)
	switch {
	case n < 126:
		return append(buf, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(buf, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(buf, 127), uint64(n))
	}
}

func (g *gatherWriter) writeLocked(p []byte) (int, error) {
	if err := g.conn.SetWriteDeadline(time.Now().Add(g.timeout)); err != nil {
		return 0, err
	}
	return g.conn.Write(p)
}
