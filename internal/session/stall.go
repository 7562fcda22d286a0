package session

import (
	"time"

	"github.com/baton-rt/baton/internal/upstream"
)

// A backend may acknowledge every subscribe of a move or a re-attach and
// then send nothing more, its connection open and answering pings. On a
// move, CatchUp finds it: the client's position is ahead of the new
// stream's start. On a re-attach after a drop the client's position is
// the since itself, so only the acks tell: each announces the channel's
// newest seq, which a subscribe with since replays before anything later
// (both reference services; docs/protocols/legacy.md).
//
// The cut-over does not wait for those positions: the edge paces a
// backend's reader to its client, so a slow client would make the wait,
// under the operation lock and within handover.timeout, fail and retry
// (a wait there made TestModel flake). Instead, once committed, the
// attachment is watched: it must keep bringing the channels whose
// announced position it has not offered yet closer to it. When it has
// offered nothing on them for a whole bound while its client was never
// behind (the one thing that may hold its reader back, see Pacer) and
// while at least one of them was owed by it, not waiting for a recovery
// to subscribe it again (the session's operation lock holds that up, not
// the backend), it is
// closed and reported to OnDrop with ErrStalled, as a drop: the owner
// re-attaches the session, on the other backend if this one keeps
// failing.

// stallSamples is how many looks the watchdog takes per bound: the client
// must be seen not behind at each one, so that a reader freed by its
// client just before a look (and not yet scheduled) is not taken for a
// stalled backend.
const stallSamples = 4

// stallWatch is an attachment's stall watchdog. Guarded by s.mu.
type stallWatch struct {
	timer *time.Timer
	every time.Duration
	seen  uint64 // the attachment's advanced at the last look
	quiet int    // looks in a row with no advance and the client not behind
}

// Acked notes where b's ack of the subscribe r (made after Overlap handed
// r to it) said the channel stood, for Watch once b is committed.
func (s *Session) Acked(b *Attachment, r Resume, pos upstream.Position) {
	if !r.HasSince || !pos.HasSeq || pos.Seq <= r.Since {
		return // nothing announced past where b's stream starts
	}
	s.mu.Lock()
	if sb := s.subs[r.Channel]; sb != nil && sb.next == b {
		sb.nextHead = max(sb.nextHead, pos.Seq)
	}
	s.mu.Unlock()
}

// Watch starts a's stall watchdog, once a has been committed (see the
// comment at the top of stall.go): a is closed and reported to OnDrop
// with ErrStalled when, on the channels whose announced position (Acked)
// it has not offered yet, it offers nothing for within while the client
// is not behind. It does nothing when a has offered them all already, or
// within is not positive. The watchdog ends with a (its close, a
// Release, the session's end), when a stops being the session's
// attachment, or when every channel has reached its position.
func (s *Session) Watch(a *Attachment, within time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if within <= 0 || s.closed || a != s.att || a.dead || a.closing || a.watch != nil {
		return
	}
	if pending, _ := s.headsPendingLocked(a); !pending {
		return
	}
	w := &stallWatch{every: max(within/stallSamples, time.Millisecond), seen: a.advanced}
	w.timer = time.AfterFunc(w.every, func() { s.lookForStall(a, w) })
	a.watch = w
}

// lookForStall is one look of a's watchdog w.
func (s *Session) lookForStall(a *Attachment, w *stallWatch) {
	behind := s.pacer != nil && s.pacer.Behind() // the sink's locks come after s.mu's: ask first
	s.mu.Lock()
	if a.watch != w {
		s.mu.Unlock()
		return // stopped
	}
	pending, due := s.headsPendingLocked(a)
	if s.closed || a != s.att || a.dead || a.closing || !pending {
		a.watch = nil
		s.mu.Unlock()
		return
	}
	if behind || !due || a.advanced != w.seen {
		w.seen, w.quiet = a.advanced, 0
	} else {
		w.quiet++
	}
	if w.quiet < stallSamples {
		w.timer.Reset(w.every)
		s.mu.Unlock()
		return
	}
	a.watch, a.stalled = nil, true
	s.wg.Add(1) // Close waits for the close below
	s.mu.Unlock()
	defer s.wg.Done()
	_ = a.conn.Close() // HandleClose reports the drop, with ErrStalled
}

// headsPendingLocked reports whether a is the source of a channel whose
// announced position it has not offered yet, and whether one of those
// is due from a: not waiting for a recovery to subscribe it again on a
// (after a's subscription_lost or a gap), which waits for the operation
// lock, so that the session, not a, holds the channel up. s.mu is held.
func (s *Session) headsPendingLocked(a *Attachment) (pending, due bool) {
	for _, sb := range s.subs {
		if sb.head != 0 && sb.src == a {
			pending = true
			if !sb.recovering || sb.recoverOn != a || sb.resubscribed {
				return true, true
			}
		}
	}
	return pending, false
}

// advancedLocked notes that a, sb's source, offered seq on sb while sb's
// announced position was pending. s.mu is held.
func (s *Session) advancedLocked(a *Attachment, sb *sub, seq uint64) {
	a.advanced++
	if seq == 0 || seq >= sb.head {
		sb.head = 0 // reached, or without seq: nothing to measure by
	}
}

// stopWatchLocked stops a's watchdog, if it runs. s.mu is held.
func (a *Attachment) stopWatchLocked() {
	if a.watch != nil {
		a.watch.timer.Stop()
		a.watch = nil
	}
}
