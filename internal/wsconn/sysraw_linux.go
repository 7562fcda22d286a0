package wsconn

import (
	"syscall"
	"unsafe"
)

// rawRead and rawWrite are read(2) and write(2) for the callbacks of
// syscall.RawConn on a non-blocking socket, where neither can block,
// without the scheduler's system-call bookkeeping: syscall.Read and Write
// (and net.Conn's) tell the runtime a system call is under way, and the
// first one after the process went idle wakes the runtime's monitor
// thread, which then polls every 20 µs until the process is idle again.
// A gateway relaying one request at a time went idle between requests and
// paid that at every one: about 1.6 futex, 0.9 nanosleep and 0.5
// sched_yield calls per request, on the gateway's own core
// (docs/benchmarks-history.md, tenth session).
func rawRead(fd uintptr, p []byte) (int, error)  { return rawIO(syscall.SYS_READ, fd, p) }
func rawWrite(fd uintptr, p []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, p) }

func rawIO(trap, fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
