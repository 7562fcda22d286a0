//go:build !unix

package wsconn

import "syscall"

// writeAll writes all of p, waiting for the socket, and counts what it
// took in w.written. Where raw writes are not ours the count moves only
// as the write returns. w.mu is held.
func (w *Writer) writeAll(p []byte) (int, error) {
	n, err := w.conn.Write(p)
	w.written.Add(uint64(n))
	return n, err
}

// writeNoWait writes nothing where raw writes are not ours: the caller's
// goroutine that may wait writes it all.
func (w *Writer) writeNoWait([]byte) (int, error) { return 0, nil }

// writeOnce is not called where rawOf returns nil.
func writeOnce(syscall.RawConn, []byte) (int, error) { return 0, nil }
