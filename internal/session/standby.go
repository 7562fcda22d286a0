package session

import "github.com/baton-rt/baton/internal/router"

// A standby is a connection to a backend the session is not on, kept open
// and idle (subscribed to nothing), so that moving there is a resubscribe
// on it rather than a new connection and handshake. It is either the one
// the session has just left (the gateway keeps those during a rollout,
// where a rollback must be fast) or one dialed ahead of a move
// (handover.Prepare). A session holds at most one; its end (the backend
// closing it) only forgets it. The custom events of a standby the session
// left are dropped; those of one dialed ahead wait for the move (see
// DialAhead).

// Park keeps a, an attachment the session has moved away from and whose
// channels the caller has left, or one dialed ahead (DialAhead), as the
// session's standby, if keep (asked under the session's lock, so that a
// caller turning standbys off and then releasing every session's standby
// misses none) says backend a.Color() still wants one. It reports false, keeping nothing, when a cannot serve
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

// DropStandby forgets the session's standby, unless keep says its backend
// still wants one, and returns it for the caller to release (nil when
// none was dropped).
func (s *Session) DropStandby(keep func(router.Color) bool) *Attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.standby
	if a == nil || keep(a.color) {
		return nil
	}
	s.standby = nil
	return a
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
