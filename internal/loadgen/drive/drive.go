// Package drive holds what the benchmark drivers (loadgen, gwbench) share
// for their raw WebSocket clients: reading only the head of each frame,
// finding integers in a frame without decoding JSON, and running one step
// (dial, subscribe) over many clients with bounded concurrency, and the
// few Socket.IO frames they speak (socketio.go).
package drive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
)

// ReadHead reads the next message from conn into buf and discards the
// rest of it unread, returning the part that fits. Drivers look only at a
// frame's first few hundred bytes (type, seq, send time).
//
// It passes a context without a deadline on purpose: coder/websocket
// registers a context callback per read for a cancellable context, a cost
// paid per delivery; a read loop ends by closing the connection instead.
func ReadHead(conn *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := conn.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	n, err := io.ReadFull(r, buf)
	switch {
	case err == nil:
		_, err = io.Copy(io.Discard, r)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// IntAfter finds key in b and parses the non-negative integer that follows
// it (up to 18 digits, which cannot overflow int64).
func IntAfter(b, key []byte) (int64, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0, false
	}
	b = b[i+len(key):]
	var n int64
	j := 0
	for ; j < len(b) && j < 18 && b[j] >= '0' && b[j] <= '9'; j++ {
		n = n*10 + int64(b[j]-'0')
	}
	return n, j > 0
}

// Each calls fn(i) for i in [0, n), at most conc calls at a time. It stops
// handing out indexes at the first error or when ctx ends, and returns the
// first error, or ctx's error when ctx ended before every index was done.
func Each(ctx context.Context, n, conc int, fn func(i int) error) error {
	var (
		next     atomic.Int64
		finished atomic.Int64
		failed   atomic.Bool
		first    error
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range max(conc, 1) {
		wg.Go(func() {
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					failed.Store(true)
					once.Do(func() { first = err })
					return
				}
				finished.Add(1)
			}
		})
	}
	wg.Wait()
	if first == nil && finished.Load() < int64(n) {
		first = ctx.Err()
	}
	return first
}

// DialAll opens n clients with dial(i), at most conc dials in flight,
// retrying each failed dial once. It returns the clients opened, in index
// order, and an error when any of them could not connect.
func DialAll[C any](ctx context.Context, n, conc int, dial func(i int) (*C, error)) ([]*C, error) {
	clients := make([]*C, n)
	err := Each(ctx, n, conc, func(i int) error {
		c, err := dial(i)
		if err != nil {
			c, err = dial(i)
		}
		clients[i] = c
		return err
	})
	open := clients[:0]
	for _, c := range clients {
		if c != nil {
			open = append(open, c)
		}
	}
	if err != nil {
		return open, fmt.Errorf("connected %d of %d: %w", len(open), n, err)
	}
	return open, nil
}
