//go:build unix

package wsconn

import (
	"os"
	"syscall"
)

// writeNoWait writes what the socket takes of p now, with one write(2):
// none when its buffer is full, or when there is no raw connection.
func writeNoWait(raw syscall.RawConn, p []byte) (int, error) {
	if raw == nil {
		return 0, nil
	}
	var n int
	var err error
	werr := raw.Write(func(fd uintptr) bool {
		for {
			if n, err = syscall.Write(int(fd), p); err != syscall.EINTR {
				break
			}
		}
		return true // never wait for writability: the caller hands the rest on
	})
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
