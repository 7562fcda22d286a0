package handover

import (
	"context"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
)

// Prepare makes step 2 of a later move of s to backend to ahead of it:
// it dials to and keeps the connection as the session's standby (idle,
// subscribed to nothing; see session.Park), which that move then takes in
// place of its dial. A weight change whose sessions were prepared so
// spends its time on resubscribes, not on TCP and protocol handshakes.
//
// It reports whether s holds a standby on to afterwards. It does nothing
// when s holds one already, and keeps nothing when s cannot use one: it
// is on to, holds a standby on the other backend, or has closed. Only a
// failed dial is an error, which leaves s as it was.
func Prepare(ctx context.Context, s *session.Session, to router.Color, d upstream.Dialer, opts Options) (bool, error) {
	if c, ok := s.Standby(); ok {
		return c == to, nil
	}
	if s.Closed() || s.Color() == to {
		return false, nil
	}
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	a, err := s.DialAhead(ctx, to, d)
	if err != nil {
		return false, &Error{Session: s.ID(), To: to, Stage: StageDial, Err: err}
	}
	if !s.Park(a, func(c router.Color) bool { return c == to }) {
		s.Release(a)
		return false, nil
	}
	return true, nil
}
