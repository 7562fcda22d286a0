//go:build !unix

package wsconn

import "syscall"

// writeAll writes all of p, waiting for the socket: where raw writes are
// not ours, through net.Conn (writeConn). w.mu is held.
func (w *Writer) writeAll(p []byte) (int, error) { return w.writeConn(p) }

// writeNoWait writes nothing where raw writes are not ours: the caller's
// goroutine that may wait writes it all.
func (w *Writer) writeNoWait([]byte) (int, error) { return 0, nil }

// writeOnce is not called where rawOf returns nil.
func writeOnce(syscall.RawConn, []byte) (int, error) { return 0, nil }
