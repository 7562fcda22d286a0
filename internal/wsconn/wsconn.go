// Package wsconn is the server side of a hijacked WebSocket connection
// made cheap to hold: coder/websocket keeps the bufio.ReadWriter that
// Hijack returns for the life of the connection, and net/http's are 4 KiB
// each. Response hands it small buffers instead, a reader (Link.Wait)
// that lets an idle connection's goroutine park on a short stack, and a
// writer that gathers a batch of messages, framed here, into one
// write(2).
//
// coder/websocket still reads every frame and writes its own control
// frames (pong, close) through the same Writer; the caller writes its
// messages only through Writer.Begin/Text/End, never websocket.Conn.Write.
package wsconn

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Response.
const (
	DefaultReadSize  = 256
	DefaultWriteSize = 128 // holds any control frame whole (see Writer.Write)
)

// ErrNoHijack is returned when the ResponseWriter cannot be hijacked.
var ErrNoHijack = errors.New("wsconn: ResponseWriter cannot be hijacked")

// Response is the http.ResponseWriter handed to websocket.Accept. After a
// successful Accept, Link holds the connection's reader and writer.
type Response struct {
	http.ResponseWriter
	// Timeout bounds every write to the connection: each has at least
	// this long, and at most one and a half times it. Required.
	Timeout time.Duration
	// ReadSize and WriteSize size the buffers coder/websocket keeps; zero
	// means DefaultReadSize, DefaultWriteSize. Larger frames bypass them.
	ReadSize, WriteSize int
	// HoldHeader holds the 101 back until the connection's first write,
	// so that it and the server's greeting (a welcome frame, an Engine.IO
	// open packet) leave in one write(2) and one TCP segment: the client
	// is woken once, not twice. Set it only where the server writes first,
	// right after the upgrade; a client that has to speak first would wait
	// for the 101 forever.
	HoldHeader bool

	Link *Link // set by Hijack

	held bool // WriteHeader(101) was held back
}

// WriteHeader sends the response's header, or, for the 101 under
// HoldHeader, keeps it for Hijack to hand to the Writer.
func (r *Response) WriteHeader(code int) {
	if code == http.StatusSwitchingProtocols && r.HoldHeader {
		r.held = true
		return
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *Response) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack takes over the connection and returns small buffers around it;
// net/http's own buffers are dropped.
func (r *Response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, ErrNoHijack
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	rs, ws := r.ReadSize, r.WriteSize
	if rs <= 0 {
		rs = DefaultReadSize
	}
	if ws <= 0 {
		ws = DefaultWriteSize
	}
	// Bytes already read past the handshake (a message the client
	// pipelined, or sent as soon as the 101 reached it, which net/http's
	// background read can catch before the hijack) are read first,
	// through parkConn: coder/websocket moves what is left in the reader's
	// buffer out of it at Accept, where Buffered could not see it and Wait
	// would block on the socket.
	l := &Link{}
	l.in.Conn = conn
	l.in.raw = rawOf(conn)
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		l.in.early = bytes.Clone(early)
	}
	l.br = bufio.NewReaderSize(&l.in, rs)
	l.out = Writer{conn: conn, raw: l.in.raw, timeout: r.Timeout}
	if r.held {
		// net/http wrote nothing: the 101 goes out with the first write.
		head := bytes.NewBufferString("HTTP/1.1 101 Switching Protocols\r\n")
		_ = r.Header().Write(head) // a bytes.Buffer does not fail
		head.WriteString("\r\n")
		b := head.Bytes()
		l.out.head = &b
	}
	r.Link = l
	return &l.in, bufio.NewReadWriter(l.br, bufio.NewWriterSize(&l.out, ws)), nil
}

// Link is what a connection keeps of its hijacked socket besides the
// websocket.Conn: the reader coder/websocket reads from, and the writer it
// writes to. One allocation per connection.
type Link struct {
	in  parkConn
	out Writer
	br  *bufio.Reader // coder/websocket's read buffer (it reads via in)

	// gate orders Buffered against a websocket.Conn.Close on another
	// goroutine, which reads br while it waits for the peer's close frame:
	// hold it (Gate) around such a Close.
	gate sync.Mutex
}

// Writer returns the connection's writer.
func (l *Link) Writer() *Writer { return &l.out }

// Buffered reports whether coder/websocket's read buffer holds bytes not
// yet read: then the next websocket.Conn.Read needs no socket read.
func (l *Link) Buffered() bool {
	l.gate.Lock()
	defer l.gate.Unlock()
	return l.br.Buffered() > 0 || l.in.hasEarly()
}

// Gate returns the lock to hold around a websocket.Conn.Close that runs
// while another goroutine may call Buffered.
func (l *Link) Gate() sync.Locker { return &l.gate }

// Cut closes the socket at once. It is how a bounded close handshake
// ends: websocket.Conn.CloseNow does nothing once Close has begun but
// wait for it, and Close waits up to 5 s for the peer's close frame;
// cut, that wait fails and Close returns.
func (l *Link) Cut() { _ = l.in.Conn.Close() }

// Wait blocks until the peer sends something or the connection fails, on
// a short call chain: an idle connection's reader parks here instead of
// deep inside websocket.Conn.Read, so its goroutine keeps the smallest
// stack. Call it only when Buffered is false.
//
// Pong frames that arrive whole and alone (the answers to a heartbeat's
// Writer.Ping) are dropped here, as coder/websocket would drop them
// (counted in Reads all the same), and the wait goes on: a heartbeat does
// not wake the reader only to leave it blocked deep in a read, with a
// larger stack and its read buffer, until the client's next message.
func (l *Link) Wait() {
	for {
		l.in.wait()
		if !l.in.skipPongs() {
			return
		}
	}
}

// Reads counts the reads from the socket that brought bytes from the
// peer, whoever read them (Wait, or coder/websocket reading a frame, a
// pong among them); it wraps around. A heartbeat compares it with the
// count at its last look: a change means the peer sent something.
func (l *Link) Reads() uint32 { return l.in.reads.Load() }

// parkConn is the net.Conn coder/websocket reads from. What wait read is
// handed out first by Read.
type parkConn struct {
	net.Conn
	raw syscall.RawConn // Conn's, when it has one (TCP): wait reads through it

	// mu is held across the blocking reads so that a read by wait and
	// one by coder/websocket (Close reading the close frame) never run at
	// once and bytes stay in order.
	mu    sync.Mutex
	early []byte  // read ahead (with the handshake, or by wait): served first
	ahead *[]byte // early's array when it came from aheadPool
	one   [1]byte
	have  bool // one holds a byte read by wait
	// reads counts the socket reads that brought bytes (Link.Reads); it
	// fits beside have, in what was padding.
	reads atomic.Uint32
	err   error // wait's read failed; Read returns it
}

// aheadSize sizes wait's reads: a few client frames.
const aheadSize = 2 << 10

// aheadPool holds wait's read buffers. One is taken only once the socket
// has something to read and is handed back as soon as that is read, so
// an idle connection holds none.
var aheadPool = sync.Pool{New: func() any {
	b := make([]byte, aheadSize)
	return &b
}}

func (p *parkConn) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(b) == 0:
		return 0, nil
	case len(p.early) > 0:
		n := copy(b, p.early)
		if p.early = p.early[n:]; len(p.early) == 0 {
			p.early = nil // the array is not kept for the connection's life
			if p.ahead != nil {
				aheadPool.Put(p.ahead)
				p.ahead = nil
			}
		}
		return n, nil
	case p.have:
		b[0], p.have = p.one[0], false
		return 1, nil
	case p.err != nil:
		return 0, p.err
	}
	n, err := p.Conn.Read(b)
	if n > 0 {
		p.reads.Add(1)
	}
	return n, err
}

// hasEarly reports whether bytes read ahead wait to be read. Only the
// reader calls it (through Buffered), and early changes only in wait,
// which runs on the reader, and in Read, which runs on the reader or,
// under the Link's gate that Buffered also takes, on a Close: it needs
// no lock of its own.
func (p *parkConn) hasEarly() bool { return len(p.early) > 0 }

// skipPongs drops the client's pong frames (masked, as client frames
// are) at the head of what wait read ahead, as long as each is there
// whole, and reports whether that was all: then the reader may wait
// again, and the read-ahead buffer has gone back to its pool. Anything
// else (a message, a ping, a close frame, a frame cut short, a byte read
// without read-ahead) is left for coder/websocket to read.
func (p *parkConn) skipPongs() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.early) == 0 {
		return false
	}
	for b := p.early; len(b) > 0; b = p.early {
		const hdr = 2 + 4 // a short header and the masking key
		if len(b) < hdr || b[0] != 0x80|opPong || b[1]&0x80 == 0 || b[1]&0x7f > 125 || len(b) < hdr+int(b[1]&0x7f) {
			return false
		}
		p.early = b[hdr+int(b[1]&0x7f):]
	}
	p.early = nil
	if p.ahead != nil {
		aheadPool.Put(p.ahead)
		p.ahead = nil
	}
	return p.err == nil
}

// wait blocks until the peer sends something. Through the raw socket it
// reads what has come in one read(2), as coder/websocket's next read
// would have; otherwise it reads one byte, and the rest is read after.
func (p *parkConn) wait() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.early) > 0 || p.have || p.err != nil {
		return
	}
	if p.raw != nil {
		p.readAhead()
		return
	}
	n, err := p.Conn.Read(p.one[:])
	p.have = n == 1
	if n == 0 {
		p.err = err
	} else {
		p.reads.Add(1)
	}
}

// renewAfter is how long a parking reader keeps its goroutine before a
// renewal (see Renewal). At a second, renewals of 5,000 busy connections
// cost 2–3 % of a fan-out's CPU in stack growth. A new connection is
// renewed at its first wait; a grown stack kept longer is shrunk by the
// runtime at GC.
const renewAfter = 10 * time.Second

// Renewal tells a parking reader when to hand over to a fresh goroutine
// instead of waiting on its own. A fresh goroutine waits on the smallest
// stack, which is what an idle connection should hold; but each renewal
// costs a goroutine start and the stack growth of the next message's
// handling, which on a busy connection would be paid per message. So the
// reader renews at most once per renewAfter: a connection that has gone
// idle is renewed at its next quiet spell, a busy one keeps its grown
// stack (and the runtime shrinks it at GC once it idles).
//
// The zero value is ready; only the reading goroutine (and the ones it
// hands over to) may use it.
type Renewal struct {
	last time.Time
}

// Due reports whether the reader should hand over now, and if so counts
// the handover.
func (r *Renewal) Due() bool {
	now := time.Now()
	if now.Sub(r.last) < renewAfter {
		return false
	}
	r.last = now
	return true
}
