//go:build unix

package wsconn

import (
	"os"
	"sync"
	"syscall"
)

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
