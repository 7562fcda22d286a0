package membroker

import (
	"sync"

	"github.com/baton-rt/baton/internal/broker"
)

// channel is one stream: its seq, its retained history and its live
// subscriptions, all guarded by mu.
type channel struct {
	name string

	mu     sync.Mutex
	seq    uint64
	ring   []broker.Message // message seq s is at ring[(s-1)%HistorySize]
	subs   broker.Fanout
	closed bool
}

func (c *channel) publish(b *Broker, data []byte) (broker.Message, error) {
	// Copy before taking the lock: the only allocation of a publish.
	stored := make([]byte, len(data))
	copy(stored, data)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return broker.Message{}, broker.ErrClosed
	}
	c.seq++
	m := broker.Message{Channel: c.name, Seq: c.seq, Epoch: b.epoch, Data: stored}
	if size := b.opts.HistorySize; len(c.ring) < size {
		c.ring = append(c.ring, m)
	} else {
		c.ring[(c.seq-1)%uint64(size)] = m
	}
	if slow := c.subs.Deliver(m); slow > 0 {
		b.subs.Add(-int64(slow))
		b.slowClosed.Add(uint64(slow))
	}
	return m, nil
}

func (c *channel) subscribe(b *Broker) (*subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || b.closed.Load() {
		return nil, broker.ErrClosed
	}
	s := &subscription{ch: c, b: b}
	c.subs.Add(&s.Sink, b.opts.SubscriberBuffer)
	b.subs.Add(1)
	return s, nil
}

func (c *channel) history(b *Broker, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pos := broker.Position{Seq: c.seq, Epoch: b.epoch}
	if since >= c.seq {
		return nil, pos, nil
	}
	oldest := c.seq - uint64(len(c.ring)) + 1
	if since+1 < oldest {
		return nil, pos, &broker.HistoryGoneError{Channel: c.name, Since: since, Oldest: oldest, Epoch: b.epoch}
	}
	n := c.seq - since
	if n > uint64(limit) {
		n = uint64(limit)
	}
	out := make([]broker.Message, n)
	size := uint64(b.opts.HistorySize)
	for i := range out {
		out[i] = c.ring[(since+uint64(i))%size] // seq since+1+i
	}
	return out, pos, nil
}

// close ends every subscription with broker.ErrClosed and refuses new ones.
func (c *channel) close(b *Broker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	b.subs.Add(-int64(c.subs.CloseAll(broker.ErrClosed)))
}

// subscription is a broker.Subscription on one channel; its Sink lives in
// ch.subs, guarded by ch.mu.
type subscription struct {
	broker.Sink
	ch *channel
	b  *Broker
}

// Close ends the subscription; Err stays nil. Closing twice is a no-op.
func (s *subscription) Close() error {
	s.ch.mu.Lock()
	defer s.ch.mu.Unlock()
	if s.ch.subs.Close(&s.Sink, nil) {
		s.b.subs.Add(-1)
	}
	return nil
}
