// Package expiry gives up on requests that outlive their deadline with one
// timer per connection instead of one per request.
//
// A connection with requests in flight, each due by a deadline, keeps them
// in a table of its own and a Sweeper. After adding a request it calls Arm
// with the request's deadline; the Sweeper runs the connection's sweep no
// later than that, and the sweep fails what is due and returns the next
// deadline still pending. A request costs no timer, no context and no
// allocation here, which matters on a path that runs per client message.
package expiry

import (
	"context"
	"sync"
	"time"
)

// Due is when a request sent now is given up: at ctx's deadline or after
// timeout, whichever comes first; the zero time (never) when ctx has no
// deadline and timeout is not positive.
func Due(ctx context.Context, timeout time.Duration) time.Time {
	var due time.Time
	if timeout > 0 {
		due = time.Now().Add(timeout)
	}
	if dl, ok := ctx.Deadline(); ok && (due.IsZero() || dl.Before(due)) {
		due = dl
	}
	return due
}

// Sweeper runs a sweep function by the earliest deadline it was armed
// with. The zero value is not usable; use New.
type Sweeper struct {
	sweep func(now time.Time) (next time.Time)

	mu sync.Mutex
	t  *time.Timer // made at the first Arm
	at time.Time   // when t fires; zero when it is not armed
}

// New returns a Sweeper for sweep, which fails every request due at or
// before now and returns the earliest deadline still pending, or the zero
// time when none is. sweep runs on a timer's goroutine, and may run
// again before an earlier run has returned, so it takes the connection's
// own lock; it must see every request added before the Arm that covers
// it.
func New(sweep func(now time.Time) (next time.Time)) *Sweeper {
	return &Sweeper{sweep: sweep}
}

// Arm makes the sweep run no later than at (and a little after it: the
// sweep is what gives up on a request, so it must not run early).
func (s *Sweeper) Arm(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() && !at.Before(s.at) {
		return // a sweep by then is due already, and it names the next
	}
	s.at = at
	d := time.Until(at)
	if s.t == nil {
		s.t = time.AfterFunc(d, s.fire)
		return
	}
	// A fire under way meanwhile still sees the requests Arm covers, and
	// Reset schedules one more in any case.
	s.t.Reset(d)
}

// Stop cancels the pending sweep, for a connection that has ended and
// failed its requests itself. A later Arm starts again.
func (s *Sweeper) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t != nil {
		s.t.Stop()
	}
	s.at = time.Time{}
}

// TakeDue removes from pending the entries due by now and returns them,
// with the earliest deadline of those left (zero when none has one): the
// body of a sweep over a connection's table of requests, called with the
// table's lock held. deadline gives an entry's deadline; zero means it
// has none and is never taken.
func TakeDue[K comparable, V any](pending map[K]V, now time.Time, deadline func(V) time.Time) (due []V, next time.Time) {
	for k, v := range pending {
		switch at := deadline(v); {
		case at.IsZero():
		case !at.After(now):
			due = append(due, v)
			delete(pending, k)
		case next.IsZero() || at.Before(next):
			next = at
		}
	}
	return due, next
}

func (s *Sweeper) fire() {
	s.mu.Lock()
	s.at = time.Time{}
	s.mu.Unlock()
	if next := s.sweep(time.Now()); !next.IsZero() {
		s.Arm(next)
	}
}
