//go:build unix

package wsconn

import (
	"os"
	"syscall"
)

// noWaitWrite is EndNoWait's write(2), kept in the Writer so that the
// callback raw.Write takes is made once, not on every write.
type noWaitWrite struct {
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool // write, bound to this noWaitWrite
}

func (nw *noWaitWrite) write(fd uintptr) bool {
	for {
		if nw.n, nw.err = syscall.Write(int(fd), nw.p); nw.err != syscall.EINTR {
			break
		}
	}
	return true // never wait for writability: the caller hands the rest on
}

// writeNoWait writes what the socket takes of p now, with one write(2):
// none when its buffer is full, or when there is no raw connection. w.mu
// is held.
func (w *Writer) writeNoWait(p []byte) (int, error) {
	if w.raw == nil {
		return 0, nil
	}
	nw := &w.noWait
	if nw.fn == nil {
		nw.fn = nw.write
	}
	nw.p = p
	werr := w.raw.Write(nw.fn)
	n, err := nw.n, nw.err
	nw.p, nw.n, nw.err = nil, 0, nil
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
