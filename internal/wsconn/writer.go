package wsconn

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/bufpool"
)

const (
	// gatherLimit bounds a batch's buffer: past it, the batch is written
	// out and gathering starts again.
	gatherLimit = 64 << 10
	// gatherKeep is the largest buffer returned to the pool.
	gatherKeep = 2 * gatherLimit
)

// WebSocket frame opcodes (RFC 6455, section 5.2).
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
)

var gatherPool = bufpool.New(4<<10, gatherKeep)

// Writer is the only writer of the connection. coder/websocket's own
// frames go out at once through Write; the caller's messages are framed
// (final, unmasked: server frames) into one pooled buffer per batch
// between Begin and End, which goes out in one write(2). Both hold mu, so
// frames never interleave, and no message follows a close frame. Every
// write to the socket is bounded by the Response's Timeout (any one write
// has between it and one and a half times it; see writeLocked).
type Writer struct {
	conn    net.Conn
	raw     syscall.RawConn // conn's, for EndNoWait; nil where there is none
	timeout time.Duration

	mu        sync.Mutex
	closeSent bool      // a close frame went out: no message may follow it
	deadline  time.Time // the socket's write deadline as last set
	// head goes out before anything else: a held 101
	// (Response.HoldHeader), or what EndNoWait could not write.
	head *[]byte

	// The open batch, between Begin and End (mu held).
	bp  *[]byte
	buf []byte
	err error

	// written counts the bytes the socket has taken (see Written).
	written atomic.Uint64
}

// Written is how many bytes the socket has taken so far, counted at
// each write(2) (see writeAll), also while a write waits for a client
// that reads slowly to take the rest: a writer's progress, for a caller that must tell a writer busy with a
// long batch for a client that reads slowly from one stuck on a client
// that does not read.
func (w *Writer) Written() uint64 { return w.written.Load() }

// Write takes one whole frame from coder/websocket: it flushes after each
// frame, and its frames are control frames, which fit the write buffer.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > 0 && p[0]&0x0f == opClose {
		w.closeSent = true
	}
	return w.writeLocked(p)
}

// CloseNoWait sends a close frame with code and reason (cut to fit a
// control frame) for a peer presumed gone, without waiting: only when no
// write holds the writer and the socket takes the frame (after what is
// owed) now; it reports whether it did. Either way no message follows
// it: the caller cuts the connection next.
func (w *Writer) CloseNoWait(code websocket.StatusCode, reason string) bool {
	if !w.mu.TryLock() {
		return false // a write waits on the socket: the peer is not reading
	}
	defer w.mu.Unlock()
	return w.closeNoWaitLocked(code, reason)
}

// CloseAfterWrite is CloseNoWait once the write in progress, if any, has
// ended: a batch being written can hold the writer for a moment as well
// as a write the peer does not read holds it until its deadline. A caller
// that must not wait that long cuts the connection after a grace of its
// own, which ends the write, and this call with it.
func (w *Writer) CloseAfterWrite(code websocket.StatusCode, reason string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeNoWaitLocked(code, reason)
}

func (w *Writer) closeNoWaitLocked(code websocket.StatusCode, reason string) bool {
	if w.closeSent {
		return false
	}
	w.closeSent = true
	payload := binary.BigEndian.AppendUint16(nil, uint16(code))
	payload = append(payload, reason[:min(len(reason), 123)]...)
	p := AppendFrameHeader(nil, opClose, len(payload))
	p = append(p, payload...)
	if w.head != nil {
		p = append(*w.head, p...)
		w.head = nil
	}
	if w.extendDeadline() != nil {
		return false
	}
	n, err := w.writeNoWait(p)
	return err == nil && n == len(p)
}

// WriteOwed writes now what must go out before anything else, if any: a
// 101 held back by Response.HoldHeader (for a server that ends the
// connection without a word, so that the client sees the upgrade and then
// the end, not a handshake cut short), or what EndNoWait left. It waits as
// End does.
func (w *Writer) WriteOwed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.head == nil {
		return nil
	}
	_, err := w.writeLocked(nil)
	return err
}

// Begin opens a batch; the writer stays locked until End, which the
// caller must call when Begin succeeded. It fails with net.ErrClosed once
// a close frame has gone out.
func (w *Writer) Begin() error {
	w.mu.Lock()
	if w.closeSent {
		w.mu.Unlock()
		return net.ErrClosed
	}
	w.bp = gatherPool.Get()
	w.buf, w.err = *w.bp, nil
	return nil
}

// Text adds a text message to the batch.
func (w *Writer) Text(payload []byte) { w.add(opText, payload) }

// Binary adds a binary message to the batch.
func (w *Writer) Binary(payload []byte) { w.add(opBinary, payload) }

// Ping adds a ping frame without payload to the batch, for a heartbeat:
// the peer's WebSocket library answers it with a pong by itself.
func (w *Writer) Ping() { w.add(opPing, nil) }

// End writes out the batch, unlocks the writer, and reports the first
// write error of the batch.
func (w *Writer) End() error {
	err := w.err
	if err == nil && len(w.buf) > 0 {
		_, err = w.writeLocked(w.buf)
	}
	w.release()
	return err
}

// EndNoWait ends the batch as End does, but with one write(2) that does
// not wait for the socket: for a goroutine that must not block on this
// client. What the socket does not take stays owed, ahead of any other
// write; owed then says the caller must see that WriteOwed runs on a
// goroutine that may wait. A batch that reached gatherLimit has been
// written in part already, waiting: keep batches under it.
func (w *Writer) EndNoWait() (owed bool, err error) {
	defer w.release()
	if w.err != nil {
		return false, w.err
	}
	p := w.buf
	if w.head != nil {
		p = append(*w.head, p...)
	}
	if len(p) == 0 {
		return false, nil
	}
	if err := w.extendDeadline(); err != nil {
		return false, err
	}
	n, err := w.writeNoWait(p)
	if err != nil {
		return false, err
	}
	if n < len(p) {
		rest := bytes.Clone(p[n:])
		w.head = &rest
		return true, nil
	}
	w.head = nil
	return false, nil
}

// release returns the batch's buffer and unlocks the writer.
func (w *Writer) release() {
	*w.bp = w.buf
	gatherPool.Put(w.bp)
	w.bp, w.buf, w.err = nil, nil, nil
	w.mu.Unlock()
}

// add appends one frame, writing the buffer out when it reaches
// gatherLimit; a payload that large is written from where it is rather
// than copied. After a write error the rest of the batch is dropped.
func (w *Writer) add(op byte, payload []byte) {
	if w.err != nil {
		return
	}
	w.buf = AppendFrameHeader(w.buf, op, len(payload))
	if len(payload) < gatherLimit {
		w.buf = append(w.buf, payload...)
		if len(w.buf) >= gatherLimit {
			_, w.err = w.writeLocked(w.buf)
			w.buf = w.buf[:0]
		}
		return
	}
	if _, w.err = w.writeLocked(w.buf); w.err == nil {
		_, w.err = w.writeLocked(payload)
	}
	w.buf = w.buf[:0]
}

// AppendFrameHeader appends the header of a final, unmasked frame with
// opcode op and an n-byte payload.
func AppendFrameHeader(buf []byte, op byte, n int) []byte {
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

// extendDeadline moves the socket's write deadline out when less than the
// timeout is left: an expired one would fail even a write that does not
// wait.
func (w *Writer) extendDeadline() error {
	if now := time.Now(); w.deadline.Sub(now) < w.timeout {
		w.deadline = now.Add(w.timeout + w.timeout/2)
		return w.conn.SetWriteDeadline(w.deadline)
	}
	return nil
}

// writeLocked writes p with at least the timeout and at most one and a
// half times it to go: the socket's deadline is set half a timeout further
// out and moves only once less than the timeout is left, so that a
// connection written to often does not reset its timer on every write.
func (w *Writer) writeLocked(p []byte) (int, error) {
	if err := w.extendDeadline(); err != nil {
		return 0, err
	}
	if w.head != nil {
		head := *w.head
		n, err := w.writeAll(append(head, p...))
		if n < len(head) { // what is left of it goes first next time
			rest := head[n:]
			w.head = &rest
			return 0, err
		}
		w.head = nil
		return n - len(head), err
	}
	return w.writeAll(p)
}

// writeConn writes all of p through net.Conn's Write and counts what it
// took in w.written, which then moves only as the write returns. w.mu is
// held.
func (w *Writer) writeConn(p []byte) (int, error) {
	n, err := w.conn.Write(p)
	w.written.Add(uint64(n))
	return n, err
}
