package rollout

import (
	"sync"
	"sync/atomic"
)

// Feed hands events to its subscriptions (SSE streams), never waiting for
// one: the controller publishes its own, and a gateway that follows
// another's rollout relays the stored ones through one. The zero value is
// ready.
type Feed struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	// recent are the last events published (at most
	// DefaultSubscriptionBuffer), of published in all, for
	// SubscribeWithHistory.
	recent    []Event
	published uint64
}

// Subscription delivers events to one subscriber. Its channel is bounded:
// when the subscriber falls behind, the oldest queued event is dropped to
// make room and counted.
type Subscription struct {
	f       *Feed
	ch      chan Event
	dropped atomic.Uint64
	once    sync.Once
}

// DefaultSubscriptionBuffer is the channel size for Subscribe(0).
const DefaultSubscriptionBuffer = 64

// Subscribe returns a subscription to every later event, with a channel of
// buffer events (0 means DefaultSubscriptionBuffer); after Close, one
// whose channel is closed. Close it when done.
func (f *Feed) Subscribe(buffer int) *Subscription { return f.subscribe(buffer, false) }

// subscribe is Subscribe, with the recent events queued first when
// history is set: under the lock that Publish takes, so that none is
// queued twice or missed.
func (f *Feed) subscribe(buffer int, history bool) *Subscription {
	if buffer <= 0 {
		buffer = DefaultSubscriptionBuffer
	}
	s := &Subscription{f: f, ch: make(chan Event, buffer)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		s.closeLocked()
		return s
	}
	if f.subs == nil {
		f.subs = make(map[*Subscription]struct{})
	}
	f.subs[s] = struct{}{}
	if history {
		s.dropped.Add(f.published - uint64(len(f.recent)))
		for _, e := range f.recent {
			s.offer(e)
		}
	}
	return s
}

// SubscribeWithHistory is Subscribe, with the events published so far
// queued first (at most the last DefaultSubscriptionBuffer; the earlier
// ones, and those the buffer cannot hold, count as dropped). A stream
// that switches to this feed (a gateway that took a shared store) gets
// with it what the feed published before the switch: the take-over's
// recovered event among them.
func (f *Feed) SubscribeWithHistory(buffer int) *Subscription { return f.subscribe(buffer, true) }

// Publish offers e to every subscription.
func (f *Feed) Publish(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.recent) == DefaultSubscriptionBuffer {
		f.recent = append(f.recent[:0], f.recent[1:]...)
	}
	f.recent = append(f.recent, e)
	f.published++
	for s := range f.subs {
		s.offer(e)
	}
}

// Close closes every subscription's channel, and those of later ones.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.subs {
		s.closeLocked()
	}
}

// C delivers the events; it is closed by Close or the feed's Close.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped counts the events dropped because the subscriber was behind.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes its channel. It is idempotent.
func (s *Subscription) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	s.once.Do(func() {
		delete(s.f.subs, s)
		close(s.ch)
	})
}

// offer queues e, dropping the oldest queued event when full. Only the
// feed sends (under its lock), so after one drop there is room.
func (s *Subscription) offer(e Event) {
	for range 2 {
		select {
		case s.ch <- e:
			return
		default:
		}
		select {
		case <-s.ch:
			s.dropped.Add(1)
		default:
		}
	}
	s.dropped.Add(1) // unreachable in practice; never block the publisher
}
