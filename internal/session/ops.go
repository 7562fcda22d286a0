package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/upstream"
)

// The operations the edge calls on behalf of its client. Each forwards to
// the session's current attachment; errors from the backend come back as
// they are (for example *upstream.RemoteError).

// leaveTimeout bounds the unsubscribe that follows a subscribe left
// without an answer.
const leaveTimeout = 5 * time.Second

// Subscribe subscribes the session to channel on its current backend and
// waits for the ack. With hasSince the backend first replays the messages
// after since (the client resumes a stream it had). The position is the
// backend's report of the channel, when it gives one.
//
// A subscribe in flight on a connection that drops is sent again on the
// connection the re-attach brings, from where the client stands, and
// answered from there: a subscribe is idempotent, and the client keeps the
// channel (unlike a publish, which is never sent twice). When the client
// gave no since and the new backend refuses the one taken from where it
// stands, the error wraps ErrCarriedSinceGone.
func (s *Session) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	if err := broker.ValidChannel(channel); err != nil {
		return upstream.Position{}, fmt.Errorf("%w: %q", ErrInvalidChannel, channel)
	}
	r := Resume{Channel: channel, Since: since, HasSince: hasSince}
	for {
		pos, dropped, err := s.subscribe(ctx, &r)
		if dropped == nil {
			if r.HasSince && !hasSince && upstream.HistoryGone(err) {
				err = fmt.Errorf("%w: %w", ErrCarriedSinceGone, err)
			}
			return pos, err
		}
		// Once the drop is handled (HandleClose has run), the next
		// attachment is the re-attach's, or the session has closed.
		select {
		case <-dropped:
		case <-ctx.Done():
			return upstream.Position{}, err
		}
	}
}

// subscribe is one attempt of Subscribe, on the current attachment. When
// that attachment's connection ended before the ack came, it returns the
// connection's Done and the drop's error, with r moved to where the
// client stands: messages the old stream delivered meanwhile wait at the
// edge for the ack, and the next attempt must not bring them again.
func (s *Session) subscribe(ctx context.Context, r *Resume) (upstream.Position, <-chan struct{}, error) {
	a, err := s.lockAttached(ctx)
	if err != nil {
		return upstream.Position{}, nil, err
	}
	defer s.UnlockOps()
	defer s.release(a)

	channel := r.Channel
	s.mu.Lock()
	if _, dup := s.subs[channel]; dup {
		s.mu.Unlock()
		return upstream.Position{}, nil, fmt.Errorf("%w: %q", ErrAlreadySubscribed, channel)
	}
	if len(s.subs) >= s.maxSubs {
		s.mu.Unlock()
		return upstream.Position{}, nil, fmt.Errorf("%w (at most %d)", ErrTooManySubscriptions, s.maxSubs)
	}
	// Registered before the request: the backend may send the first
	// messages before its ack is read.
	sb := &sub{src: a, last: r.Since, hasLast: r.HasSince}
	s.subs[channel] = sb
	s.mu.Unlock()

	pos, err := a.conn.Subscribe(ctx, channel, r.Since, r.HasSince)
	dropped := errors.Is(err, upstream.ErrClosed)
	var refused *upstream.RemoteError
	if err != nil && !dropped && !errors.As(err, &refused) {
		// No answer (a timeout, say): the backend may have taken the
		// subscribe all the same, and would stream a channel the session
		// no longer holds, refusing the client's retry as a duplicate.
		// Leave it, best effort.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
		_ = a.conn.Unsubscribe(uctx, channel)
		cancel()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.subs[channel] == sb {
			delete(s.subs, channel)
		}
		if dropped {
			r.Since, r.HasSince = sb.last, sb.hasLast
			return upstream.Position{}, a.conn.Done(), err
		}
		return upstream.Position{}, nil, err
	}
	if !sb.hasLast && pos.HasSeq {
		sb.last, sb.hasLast = pos.Seq, true
	}
	return pos, nil, nil
}

// Unsubscribe ends the session's subscription to channel. Messages of the
// channel stop at once, whatever the backend answers; only an error
// wrapping ErrStillSubscribed (or ErrClosed) leaves them coming.
func (s *Session) Unsubscribe(ctx context.Context, channel string) error {
	if err := s.LockOps(ctx); err != nil {
		if errors.Is(err, ErrClosed) {
			return err
		}
		// Told apart from a backend's late answer, which also ends with
		// ctx but after the channel was dropped.
		return fmt.Errorf("%w: %w", ErrStillSubscribed, err)
	}
	defer s.UnlockOps()
	s.mu.Lock()
	sb := s.subs[channel]
	delete(s.subs, channel)
	a := s.att
	live := a != nil && !a.dead
	if live {
		a.inflight++
	}
	s.mu.Unlock()
	if sb == nil {
		if live {
			s.release(a)
		}
		return fmt.Errorf("%w: %q", ErrNotSubscribed, channel)
	}
	if !live {
		return nil // no backend holds it; a re-attach will not restore it
	}
	defer s.release(a)
	return a.conn.Unsubscribe(ctx, channel)
}

// Publish publishes data (one JSON value) on channel through the current
// backend and returns the seq it assigned.
func (s *Session) Publish(ctx context.Context, channel string, data []byte) (uint64, error) {
	a, err := s.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer s.release(a)
	return a.conn.Publish(ctx, channel, data)
}

// PublishAsync sends a publish request to the current backend and returns
// once it is written; reply gets the answer later, followed by the sink's
// Flush (see upstream.Conn.PublishAsync). The request counts as in flight
// on its backend connection until then, so a move waits for it.
func (s *Session) PublishAsync(ctx context.Context, channel string, data []byte, reply func(seq uint64, err error)) error {
	a, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	err = a.conn.PublishAsync(ctx, channel, data, func(seq uint64, err error) {
		s.release(a)
		reply(seq, err)
	})
	if err != nil {
		s.release(a)
	}
	return err
}

// Request sends a custom event to the current backend and waits for its
// acknowledgement.
func (s *Session) Request(ctx context.Context, event string, args [][]byte) ([][]byte, error) {
	a, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release(a)
	return a.conn.Request(ctx, event, args)
}

// Emit sends a custom event to the current backend.
func (s *Session) Emit(ctx context.Context, event string, args [][]byte) error {
	a, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(a)
	return a.conn.Emit(ctx, event, args)
}

// errNoAttachment ends a wait for an attachment that outlasted
// Options.RequestTimeout.
var errNoAttachment = fmt.Errorf("session: no backend connection in time: %w", context.DeadlineExceeded)

// acquire returns the current live attachment with one more request in
// flight on it, waiting (within ctx and s.waitMax) while the session is
// re-attaching.
func (s *Session) acquire(ctx context.Context) (*Attachment, error) {
	var expired <-chan time.Time // armed at the first wait: none on the common path
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if a := s.att; a != nil && !a.dead {
			a.inflight++
			s.mu.Unlock()
			return a, nil
		}
		if s.attached == nil {
			s.attached = make(chan struct{})
		}
		wait := s.attached
		s.mu.Unlock()
		if expired == nil {
			t := time.NewTimer(s.waitMax)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-expired:
			return nil, errNoAttachment
		}
	}
}

// lockAttached takes the operation lock and a live attachment together.
// The attachment is waited for first, without the lock, because a
// re-attach needs the lock to provide one.
func (s *Session) lockAttached(ctx context.Context) (*Attachment, error) {
	for {
		a, err := s.acquire(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.LockOps(ctx); err != nil {
			s.release(a)
			return nil, err
		}
		s.mu.Lock()
		ok := a == s.att && !a.dead
		s.mu.Unlock()
		if ok {
			return a, nil
		}
		// Moved or dropped while we waited for the lock: try again.
		s.UnlockOps()
		s.release(a)
	}
}

// release ends a request started by acquire.
func (s *Session) release(a *Attachment) {
	s.mu.Lock()
	a.inflight--
	if a.inflight == 0 && a.drained != nil {
		close(a.drained)
		a.drained = nil
	}
	s.mu.Unlock()
}

func jsonString(v string) []byte {
	b, _ := json.Marshal(v) // a string always marshals
	return b
}
