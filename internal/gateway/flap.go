package gateway

import (
	"math/rand/v2"
	"time"

	"github.com/baton-rt/baton/internal/session"
)

// A backend that takes connections and drops them soon after (it crashes
// each one a moment after the handshake, a proxy in front of it resets
// them) would have its sessions re-attached as fast as it drops them:
// each drop a dial and a resubscribe, for every session on it, without
// end. So the gateway counts, per session, the drops in a row of
// attachments that had not lasted stableAfter. From the second on, a
// re-attach waits first (ReattachBackoff, doubled each time, with jitter,
// up to maxFlapBackoff); from the flapLimit-th on, it tries the other
// backend first. A weight change later moves the session back where the
// router places it, as it does any session left on the other backend by a
// re-attach; one that comes while the re-attach waits makes it try where
// the router places it first.
const (
	stableAfter    = 5 * time.Second
	flapLimit      = 3
	maxFlapBackoff = 10 * time.Second
)

// noteDrop counts a drop of s's attachment, which had been its own for
// lived, and returns the drops in a row that did not last stableAfter,
// this one included (0 if it lasted). g.mu is held.
func (g *Gateway) noteDropLocked(s *session.Session, lived time.Duration) int {
	if lived >= stableAfter {
		delete(g.quickDrops, s)
		return 0
	}
	if g.quickDrops == nil {
		g.quickDrops = make(map[*session.Session]int)
	}
	g.quickDrops[s]++
	return g.quickDrops[s]
}

// noteLasting ends s's row of quick drops when its attachment is live
// and has lasted stableAfter: a move is about to end that attachment,
// and no drop would tell that it lasted.
func (g *Gateway) noteLasting(s *session.Session) {
	if _, live := s.Attached(); !live || s.AttachedFor() < stableAfter {
		return
	}
	g.mu.Lock()
	delete(g.quickDrops, s)
	g.mu.Unlock()
}

// flapPlan says, after quick drops in a row, how long a re-attach waits
// before its first try, and whether it tries the other backend first.
func (g *Gateway) flapPlan(quick int) (wait time.Duration, otherFirst bool) {
	if quick < 2 {
		return 0, false
	}
	wait = min(g.opts.ReattachBackoff<<min(quick-2, 16), maxFlapBackoff)
	wait = wait/2 + rand.N(wait/2+1) // spread the sessions of one backend
	return wait, quick >= flapLimit
}
