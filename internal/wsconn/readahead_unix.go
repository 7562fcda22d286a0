//go:build unix

package wsconn

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// rawOf returns conn's raw connection, through which a parked reader reads
// ahead (see parkConn.readAhead), or nil.
func rawOf(conn net.Conn) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readAhead waits for the socket to be readable and reads what is there
// into a pooled buffer, served first by Read. The end of the stream and a
// failed read are kept for Read to return, as net.Conn reports them: the
// kernel reports a reset only once. When the wait itself fails (the
// connection closed, a read deadline) nothing is kept, and the next Read
// meets the same condition.
func (p *parkConn) readAhead() {
	// A closure over p passed to RawConn.Read would be allocated at every
	// wait; a pooled one is made once.
	r := aheadReaders.Get().(*aheadReader)
	r.p = p
	_ = p.raw.Read(r.read)
	r.p = nil
	aheadReaders.Put(r)
}

// aheadReader is readAhead's callback to RawConn.Read, bound to the
// connection that waits.
type aheadReader struct {
	p    *parkConn
	read func(fd uintptr) bool // r.readFD, bound once
}

var aheadReaders = sync.Pool{New: func() any {
	r := &aheadReader{}
	r.read = r.readFD
	return r
}}

func (r *aheadReader) readFD(fd uintptr) bool {
	p := r.p
	bp := aheadPool.Get().(*[]byte)
	var n int
	var err error
	for {
		if n, err = rawRead(fd, *bp); err != syscall.EINTR {
			break
		}
	}
	switch {
	case err == syscall.EAGAIN:
		aheadPool.Put(bp)
		return false // wait for readability, then try again
	case err != nil:
		aheadPool.Put(bp)
		p.err = &net.OpError{Op: "read", Net: p.LocalAddr().Network(), Source: p.LocalAddr(), Addr: p.RemoteAddr(), Err: os.NewSyscallError("read", err)}
	case n == 0:
		aheadPool.Put(bp)
		p.err = io.EOF
	default:
		p.early, p.ahead = (*bp)[:n], bp
		p.reads.Add(1)
	}
	return true
}
