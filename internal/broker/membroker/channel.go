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
	subs   []*subscription  // unordered; each knows its index
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
	// Backwards, so that removing subs[i] (which moves the last one into
	// its place) never skips a subscription that has not been served yet.
	for i := len(c.subs) - 1; i >= 0; i-- {
		s := c.subs[i]
		select {
		case s.msgs <- m:
		default:
			c.remove(s)
			s.finish(b, broker.ErrSlowSubscriber)
			b.slowClosed.Add(1)
		}
	}
	return m, nil
}

func (c *channel) subscribe(b *Broker) (*subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || b.closed.Load() {
		return nil, broker.ErrClosed
	}
	s := &subscription{ch: c, b: b, msgs: make(chan broker.Message, b.opts.SubscriberBuffer), idx: len(c.subs)}
	c.subs = append(c.subs, s)
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
	for _, s := range c.subs {
		s.idx = -1
		s.finish(b, broker.ErrClosed)
	}
	c.subs = nil
}

// remove takes s out of c.subs in O(1). c.mu must be held.
func (c *channel) remove(s *subscription) {
	last := len(c.subs) - 1
	moved := c.subs[last]
	c.subs[s.idx] = moved
	moved.idx = s.idx
	c.subs[last] = nil
	c.subs = c.subs[:last]
	s.idx = -1
}

// subscription is a broker.Subscription on one channel.
type subscription struct {
	ch   *channel
	b    *Broker
	msgs chan broker.Message
	idx  int // index in ch.subs, -1 once finished; guarded by ch.mu

	mu  sync.Mutex
	err error
}

func (s *subscription) Messages() <-chan broker.Message { return s.msgs }

func (s *subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription; Err stays nil. Closing twice is a no-op.
func (s *subscription) Close() error {
	s.ch.mu.Lock()
	defer s.ch.mu.Unlock()
	if s.idx >= 0 {
		s.ch.remove(s)
		s.finish(s.b, nil)
	}
	return nil
}

// finish records why the subscription ended and closes Messages. It is called
// exactly once, with ch.mu held, after s left ch.subs.
func (s *subscription) finish(b *Broker, err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.msgs)
	b.subs.Add(-1)
}
