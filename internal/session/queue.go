// Package session is a client's state in the gateway: its subscriptions with
// the last delivered seq per channel, its backend attachment and the
// exactly-once rule (see Session), and the bounded outbound Queue that sits
// between the goroutines producing messages for a connection and its single
// writer goroutine.
package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

var (
	// ErrQueueFull is returned by Push when the item would exceed the
	// queue's count or byte bound. The item is not queued.
	ErrQueueFull = errors.New("session: outbound queue full")
	// ErrQueueClosed is returned by Push after Close, and by Wait once the
	// queue is closed and empty.
	ErrQueueClosed = errors.New("session: outbound queue closed")
)

// Queue is a bounded multi-producer, single-consumer outbound queue.
//
// Overflow rule: Push never blocks and never drops queued items; an item that
// does not fit (by count or by bytes) is rejected with ErrQueueFull, and the
// queue stays as it was. What to do then is the caller's policy; Baton's
// reference services close the connection as a slow consumer and count it,
// because a gap in a sequenced stream is worse than a reconnect.
//
// The consumer loops on Wait and Drain, taking everything queued at once so
// that it can coalesce many items into few writes.
type Queue[T any] struct {
	maxItems int
	maxBytes int

	mu     sync.Mutex
	items  []T
	bytes  int
	closed bool
	// ready holds one token while items are queued or the queue is closed,
	// so Wait can select on it together with ctx.
	ready chan struct{}
	// room, while producers wait in WaitRoom, is closed (and reset) by the
	// next Drain or Close.
	room chan struct{}
}

// NewQueue returns a queue holding at most maxItems items and maxBytes bytes
// (as declared by Push's size argument). Both must be positive.
func NewQueue[T any](maxItems, maxBytes int) (*Queue[T], error) {
	if maxItems <= 0 || maxBytes <= 0 {
		return nil, fmt.Errorf("session: queue bounds must be positive (items %d, bytes %d)", maxItems, maxBytes)
	}
	return &Queue[T]{
		maxItems: maxItems,
		maxBytes: maxBytes,
		ready:    make(chan struct{}, 1),
	}, nil
}

// Push appends item, accounting size bytes for it. It does not block. It
// fails with ErrQueueFull if the item does not fit, and with ErrQueueClosed
// after Close. An item larger than the whole byte bound fits an empty queue
// only: refused there, it could never be delivered, and its receiver would
// be closed as slow however fast it reads. (Its size is bounded where it
// is made: a message size limit.)
func (q *Queue[T]) Push(item T, size int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrQueueClosed
	}
	if len(q.items) > 0 && (len(q.items)+1 > q.maxItems || q.bytes+size > q.maxBytes) {
		return ErrQueueFull
	}
	q.items = append(q.items, item)
	q.bytes += size
	q.signal()
	return nil
}

// Wait blocks until the queue holds an item, the queue is closed, or ctx is
// done. It returns nil when there is something to Drain (even if the queue
// was also closed), ErrQueueClosed when closed and empty, or ctx's error.
// Only one goroutine may Wait at a time.
func (q *Queue[T]) Wait(ctx context.Context) error {
	for {
		q.mu.Lock()
		n, closed := len(q.items), q.closed
		q.mu.Unlock()
		if n > 0 {
			return nil
		}
		if closed {
			return ErrQueueClosed
		}
		select {
		case <-q.ready:
			// Re-check: the token may be stale from items already drained.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Drain moves every queued item into dst[:0] and returns it, so a consumer
// that passes the previous batch back reuses its memory. The queue keeps its
// own backing array as well; steady state allocates nothing.
func (q *Queue[T]) Drain(dst []T) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = append(dst[:0], q.items...)
	clear(q.items) // drop references held by the backing array
	q.items = q.items[:0]
	q.bytes = 0
	q.wakeRoom()
	return dst
}

// Len reports the queued item count and bytes.
func (q *Queue[T]) Len() (items, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.bytes
}

// Close stops further pushes and wakes the consumer. Items already queued
// stay drainable. Close is idempotent.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
	q.wakeRoom()
}

// signal leaves a wake-up token for Wait; q.mu is held.
func (q *Queue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is already pending
	}
}

// WaitRoom blocks until items more items of bytes bytes in total would fit
// the queue's bounds, the queue is closed (ErrQueueClosed), or ctx is done.
// It is flow control for a producer that has much to send and would rather
// wait than trip the overflow rule; room is not reserved, so concurrent
// producers may take it first. Requests beyond a bound are clamped to it:
// they wait for an empty queue.
func (q *Queue[T]) WaitRoom(ctx context.Context, items, bytes int) error {
	items, bytes = min(items, q.maxItems), min(bytes, q.maxBytes)
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return ErrQueueClosed
		}
		if len(q.items)+items <= q.maxItems && q.bytes+bytes <= q.maxBytes {
			q.mu.Unlock()
			return nil
		}
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// wakeRoom releases the producers waiting in WaitRoom; q.mu is held.
func (q *Queue[T]) wakeRoom() {
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
}
