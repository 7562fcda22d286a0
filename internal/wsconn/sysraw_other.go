//go:build unix && !linux

package wsconn

import "syscall"

// rawRead and rawWrite are syscall.Read and Write where the raw forms of
// sysraw_linux.go are not ours.
func rawRead(fd uintptr, p []byte) (int, error)  { return syscall.Read(int(fd), p) }
func rawWrite(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }
