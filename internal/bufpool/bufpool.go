// Package bufpool reuses the byte buffers a frame is encoded into on its
// way to a write that copies it: one pooled buffer per frame instead of
// one allocation, and a buffer that grew for an unusually large frame is
// left to the collector rather than kept.
package bufpool

import "sync"

// Pool hands out empty buffers of a starting capacity and takes back
// those that have not grown past a bound.
type Pool struct {
	p    sync.Pool
	keep int
}

// New returns a Pool of buffers made with capacity size and kept up to
// capacity keep.
func New(size, keep int) *Pool {
	return &Pool{p: sync.Pool{New: func() any {
		b := make([]byte, 0, size)
		return &b
	}}, keep: keep}
}

// Get returns an empty buffer; append to *b.
func (p *Pool) Get() *[]byte {
	b := p.p.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// Put gives b back once nothing reads its bytes any more, unless it grew
// past the pool's bound.
func (p *Pool) Put(b *[]byte) {
	if cap(*b) <= p.keep {
		p.p.Put(b)
	}
}
