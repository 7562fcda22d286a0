//go:build unix

package wsconn

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// writeAll writes all of p, waiting for the socket (within its write
// deadline) as net.Conn's Write does, and counts each write(2)'s bytes in
// w.written as it returns: a write of a batch to a client that reads
// slowly takes a few KiB at a time for long, and a reader waiting on the
// writer's progress (Written) must see them. w.mu is held.
func (w *Writer) writeAll(p []byte) (int, error) {
	if w.raw == nil {
		return w.writeConn(p)
	}
	aw := allWrites.Get().(*allWrite)
	aw.p, aw.written = p, &w.written
	werr := w.raw.Write(aw.fn)
	n, err := aw.n, aw.err
	aw.p, aw.n, aw.err, aw.written = nil, 0, nil, nil
	allWrites.Put(aw)
	if err != nil {
		werr = os.NewSyscallError("write", err)
	}
	if werr != nil { // closed, the deadline passed, or a failed write(2)
		return n, &net.OpError{Op: "write", Net: w.conn.LocalAddr().Network(), Source: w.conn.LocalAddr(), Addr: w.conn.RemoteAddr(), Err: werr}
	}
	return n, nil
}

// allWrite is writeAll's callback to RawConn.Write with its state,
// pooled as onceWrite is.
type allWrite struct {
	p       []byte
	n       int
	err     error
	written *atomic.Uint64
	fn      func(fd uintptr) bool // write, bound once
}

var allWrites = sync.Pool{New: func() any {
	aw := &allWrite{}
	aw.fn = aw.write
	return aw
}}

func (aw *allWrite) write(fd uintptr) bool {
	for aw.n < len(aw.p) {
		n, err := rawWrite(fd, aw.p[aw.n:])
		switch err {
		case nil:
			if n == 0 {
				aw.err = io.ErrUnexpectedEOF // as net.Conn's Write: no progress, no error
				return true
			}
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until the socket takes more
		default:
			aw.err = err
			return true
		}
		aw.n += n
		aw.written.Add(uint64(n))
	}
	return true
}

// writeNoWait writes what the socket takes of p now, with one write(2):
// none when its buffer is full, or when there is no raw connection. w.mu
// is held.
func (w *Writer) writeNoWait(p []byte) (int, error) {
	if w.raw == nil {
		return 0, nil
	}
	n, err := writeOnce(w.raw, p)
	w.written.Add(uint64(n))
	return n, err
}

// writeOnce is one non-blocking write(2) of p through raw: what the socket
// takes now, none when its buffer is full.
func writeOnce(raw syscall.RawConn, p []byte) (int, error) {
	ow := onceWrites.Get().(*onceWrite)
	ow.p = p
	werr := raw.Write(ow.fn)
	n, err := ow.n, ow.err
	ow.p, ow.n, ow.err = nil, 0, nil
	onceWrites.Put(ow)
	switch {
	case werr != nil:
		return 0, werr // closed, or the deadline passed
	case err == syscall.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, os.NewSyscallError("write", err)
	}
	return n, nil
}

// onceWrite is writeOnce's callback to RawConn.Write with its result,
// pooled: a closure over p would be allocated at every write.
type onceWrite struct {
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool // write, bound once
}

var onceWrites = sync.Pool{New: func() any {
	ow := &onceWrite{}
	ow.fn = ow.write
	return ow
}}

func (ow *onceWrite) write(fd uintptr) bool {
	for {
		if ow.n, ow.err = rawWrite(fd, ow.p); ow.err != syscall.EINTR {
			break
		}
	}
	return true // never wait for writability: the caller hands the rest on
}
