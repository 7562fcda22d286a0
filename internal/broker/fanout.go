package broker

import "sync"

// Sink is the local end of one subscription: a bounded buffer of messages
// and the reason it was closed. Backends embed it in their Subscription type
// (it provides Messages and Err) and keep the open sinks of a channel in a
// Fanout.
type Sink struct {
	msgs chan Message
	idx  int // index in its Fanout, -1 once closed; guarded by the Fanout's lock

	mu  sync.Mutex
	err error
}

// Messages implements Subscription.
func (s *Sink) Messages() <-chan Message { return s.msgs }

// Err implements Subscription.
func (s *Sink) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Fanout is the set of open sinks of one channel. It is not safe for
// concurrent use: the backend guards each Fanout (and the sinks in it) with a
// lock of its own. The zero value is an empty set.
type Fanout struct {
	sinks []*Sink // unordered; each sink knows its index
}

// Add opens s with room for buffer undelivered messages and adds it.
func (f *Fanout) Add(s *Sink, buffer int) {
	s.msgs = make(chan Message, buffer)
	s.idx = len(f.sinks)
	f.sinks = append(f.sinks, s)
}

// Len is the number of open sinks.
func (f *Fanout) Len() int { return len(f.sinks) }

// Close takes s out of the set in O(1) and closes it with err (nil for a
// subscriber's own Close). It reports false, doing nothing, if s was already
// closed.
func (f *Fanout) Close(s *Sink, err error) bool {
	if s.idx < 0 {
		return false
	}
	last := len(f.sinks) - 1
	moved := f.sinks[last]
	f.sinks[s.idx] = moved
	moved.idx = s.idx
	f.sinks[last] = nil
	f.sinks = f.sinks[:last]
	s.finish(err)
	return true
}

// Deliver hands m to every sink without waiting. A sink whose buffer is full
// is closed with ErrSlowSubscriber, so a slow subscriber never stalls the
// others; Deliver returns how many were closed.
func (f *Fanout) Deliver(m Message) (slow int) {
	// Backwards, so that Close (which moves the last sink into the hole)
	// never skips a sink that has not been served yet.
	for i := len(f.sinks) - 1; i >= 0; i-- {
		s := f.sinks[i]
		select {
		case s.msgs <- m:
		default:
			f.Close(s, ErrSlowSubscriber)
			slow++
		}
	}
	return slow
}

// CloseAll closes every sink with err, empties the set and returns how many
// sinks it closed.
func (f *Fanout) CloseAll(err error) int {
	n := len(f.sinks)
	for _, s := range f.sinks {
		s.finish(err)
	}
	f.sinks = nil
	return n
}

// finish records why s ended and closes its Messages. It runs exactly once
// per sink, after s left its Fanout.
func (s *Sink) finish(err error) {
	s.idx = -1
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.msgs)
}
