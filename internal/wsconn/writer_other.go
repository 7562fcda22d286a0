//go:build !unix

package wsconn

import "syscall"

// writeNoWait writes nothing where raw writes are not ours: the caller's
// goroutine that may wait writes it all.
func writeNoWait(syscall.RawConn, []byte) (int, error) { return 0, nil }
