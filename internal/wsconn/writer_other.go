//go:build !unix

package wsconn

// noWaitWrite is empty where raw writes are not ours.
type noWaitWrite struct{}

// writeNoWait writes nothing where raw writes are not ours: the caller's
// goroutine that may wait writes it all.
func (w *Writer) writeNoWait([]byte) (int, error) { return 0, nil }
