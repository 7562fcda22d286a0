package session

import "github.com/baton-rt/baton/internal/router"

// A standby is a connection to the backend the session has just left,
// kept open and idle (subscribed to nothing) after a move, so that moving
// back is a resubscribe on it rather than a new connection and handshake.
// The gateway keeps standbys during a rollout, where a rollback must be
// fast, and releases them when the rollout ends. A session holds at most
// one; its end (the backend closing it) only forgets it.

// Park keeps a, an attachment the session has moved away from and whose
// channels the caller has left, as the session's standby, if keep (asked
// under the session's lock, so that a caller turning standbys off and then
// releasing every session's standby misses none) says backend a.Color()
// still wants one. It reports false, keeping nothing, when a cannot serve
// as one: the session closed, a ended, the session is attached or being
// attached to a's backend again, or a standby is held already. The caller
// then releases a.
func (s *Session) Park(a *Attachment, keep func(router.Color) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed, a.dead, a == s.att, a == s.next, s.standby != nil:
		return false
	case s.att != nil && s.att.color == a.color, s.next != nil && s.next.color == a.color:
		return false
	case !keep(a.color):
		return false
	}
	s.standby, a.retiring = a, false
	return true
}

// TakeStandby returns the session's standby when it is connected to
// backend color and still live, and forgets it: the caller attaches it
// (handover) or releases it. It returns nil otherwise.
func (s *Session) TakeStandby(color router.Color) *Attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.standby
	if a == nil || a.color != color || a.dead {
		return nil
	}
	s.standby = nil
	return a
}

// ReleaseStandby closes the session's standby, if it holds one.
func (s *Session) ReleaseStandby() {
	s.mu.Lock()
	a := s.standby
	s.standby = nil
	s.mu.Unlock()
	s.Release(a)
}

// Standby reports the backend of the session's live standby.
func (s *Session) Standby() (router.Color, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.standby == nil || s.standby.dead {
		return router.Blue, false
	}
	return s.standby.color, true
}
