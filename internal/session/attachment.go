package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/upstream"
)

// recoveryTimeout bounds one recovery of a channel (resubscribe with
// since), once it holds the operation lock.
const recoveryTimeout = 10 * time.Second

// Attachment is a session's connection to one backend. It is the
// upstream.Handler of that connection, so incoming traffic knows which
// backend it came from.
type Attachment struct {
	s     *Session
	color router.Color
	conn  upstream.Conn

	// Guarded by s.mu.
	inflight int           // requests started here and not finished
	drained  chan struct{} // closed when inflight drops to 0; nil when nobody waits
	dead     bool          // the connection has ended
	closing  bool          // the session closed it on purpose
	// lost: the backend dropped a channel while the attachment was being
	// brought in (a subscription_lost after its subscribe), so it cannot
	// become the channel's only source: Commit refuses it.
	lost bool
	// retiring: replaced by a commit, and not yet drained, closed or
	// parked as a standby; its custom events still reach the client (see
	// HandleEvent).
	retiring bool
	// incoming: dialed and not yet committed or aborted. Its custom
	// events reach the client from the start, also those a backend sends
	// as it accepts the connection, before Overlap (see HandleEvent).
	incoming bool
	// ahead: dialed ahead of a move (DialAhead) and not yet overlapped.
	// Its custom events wait in early (at most maxEarlyEvents) for the
	// move that takes it, as a dial's would reach the client then.
	ahead bool
	early []upstream.Event
	// current is when the attachment became the session's (Commit).
	current time.Time
	// advanced counts the messages offered on channels whose head the
	// attachment has not reached; watch is its stall watchdog while it
	// runs, and stalled says the watchdog closed it (stall.go).
	advanced uint64
	watch    *stallWatch
	stalled  bool
}

// maxEarlyEvents bounds the custom events kept on a connection dialed
// ahead (a backend's greeting on connect); more are dropped and counted.
const maxEarlyEvents = 16

var _ upstream.Handler = (*Attachment)(nil)

// Color is the backend the attachment is connected to.
func (a *Attachment) Color() router.Color { return a.color }

// Conn is the backend connection.
func (a *Attachment) Conn() upstream.Conn { return a.conn }

// Dial connects a new attachment to backend color through d. It is not
// part of the session until Commit; until then its messages are only
// accepted for channels handed to it by Overlap.
func (s *Session) Dial(ctx context.Context, color router.Color, d upstream.Dialer) (*Attachment, error) {
	a := &Attachment{s: s, color: color, incoming: true} // before its reader starts
	conn, err := d.Dial(ctx, a)
	if err != nil {
		return nil, err
	}
	a.conn = conn
	return a, nil
}

// DialAhead is Dial for a connection made ahead of a move
// (handover.Prepare): until Overlap takes it into a move, its custom
// events are kept, not delivered, and go to the client then.
func (s *Session) DialAhead(ctx context.Context, color router.Color, d upstream.Dialer) (*Attachment, error) {
	a := &Attachment{s: s, color: color, ahead: true}
	conn, err := d.Dial(ctx, a)
	if err != nil {
		return nil, err
	}
	a.conn = conn
	return a, nil
}

// Resume is where a channel must be subscribed on a new attachment.
type Resume struct {
	Channel  string
	Since    uint64 // the last delivered seq
	HasSince bool   // false when the channel's position is not known yet
}

// Overlap makes b a second source of every channel and returns where each
// must be subscribed on b. The caller holds the operation lock, so the
// set of channels cannot change until Commit or Abort.
func (s *Session) Overlap(b *Attachment) []Resume {
	s.mu.Lock()
	s.next = b
	early := false
	if b.ahead {
		b.ahead = false
		for _, ev := range b.early {
			s.deliverEventLocked(ev)
		}
		early = len(b.early) > 0
		b.early = nil
	}
	out := make([]Resume, 0, len(s.subs))
	for ch, sb := range s.subs {
		sb.next, sb.nextTop, sb.nextUnseq, sb.nextHead = b, sb.last, false, 0
		out = append(out, Resume{Channel: ch, Since: sb.last, HasSince: sb.hasLast})
	}
	s.mu.Unlock()
	if early {
		// As b's reader would have after delivering them: a sink may
		// write only on Flush, and a session without channels has no
		// subscribe ack coming to flush them.
		s.sink.Flush()
	}
	return out
}

// catchUp is a CatchUp under way: the channels whose catchTo next has
// not offered yet.
type catchUp struct {
	pending int
	done    chan struct{}
}

// CatchUp waits, after b has acknowledged every channel handed to it by
// Overlap, until b has caught up with the client: until it has offered,
// on each channel, the seq the client had been delivered when CatchUp was
// called (the current source keeps delivering meanwhile). A backend that
// acknowledges and then does not bring the channel's stream that far
// would leave the client without its messages once it is the only source.
// A channel whose position is unknown, or on which b sends messages
// without seq, is not waited for. It returns ctx's error when ctx ends
// first, and nil as soon as b ends or loses a channel (Commit then
// refuses it). The caller holds the operation lock.
func (s *Session) CatchUp(ctx context.Context, b *Attachment) error {
	s.mu.Lock()
	cu := &catchUp{done: make(chan struct{})}
	for _, sb := range s.subs {
		sb.catchTo = 0
		if sb.next == b && !b.dead && !b.lost && sb.hasLast && !sb.nextUnseq && sb.nextTop < sb.last {
			sb.catchTo = sb.last
			cu.pending++
		}
	}
	if cu.pending == 0 {
		s.mu.Unlock()
		return nil
	}
	s.catching = cu
	s.mu.Unlock()
	var err error
	select {
	case <-cu.done:
	case <-b.conn.Done():
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	if s.catching == cu {
		s.catching = nil
	}
	for _, sb := range s.subs {
		sb.catchTo = 0
	}
	s.mu.Unlock()
	return err
}

// endCatchUpLocked ends the CatchUp under way, if any. s.mu is held.
func (s *Session) endCatchUpLocked() {
	if s.catching != nil {
		close(s.catching.done)
		s.catching = nil
	}
}

// offeredLocked notes that next offered seq on sb (0: a message without
// seq), for CatchUp. s.mu is held.
func (s *Session) offeredLocked(sb *sub, seq uint64) {
	if seq == 0 {
		sb.nextUnseq = true
	}
	sb.nextTop = max(sb.nextTop, seq)
	if sb.catchTo > 0 && (seq == 0 || seq >= sb.catchTo) {
		sb.catchTo = 0
		if cu := s.catching; cu != nil {
			if cu.pending--; cu.pending == 0 {
				s.endCatchUpLocked()
			}
		}
	}
}

// Commit makes b the session's attachment and the only source of every
// channel, and returns the previous attachment (nil for the first). The
// caller then drains and releases the old one. It fails, leaving the
// session as it was, when the session has closed or b has ended.
func (s *Session) Commit(b *Attachment) (old *Attachment, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrClosed
	case b.dead:
		return nil, ErrAttachmentEnded
	case b.lost:
		return nil, ErrLostWhileBroughtIn
	}
	for ch, sb := range s.subs {
		sb.head = 0
		if sb.next == b && !sb.nextUnseq && sb.nextHead > sb.nextTop {
			sb.head = sb.nextHead // for Watch
		}
		sb.src, sb.next, sb.nextHead = b, nil, 0
		s.recoverGapLocked(ch, sb)
	}
	b.incoming, b.current = false, time.Now()
	old, s.att, s.next = s.att, b, nil
	if old != nil {
		old.retiring = true
		old.stopWatchLocked()
	}
	if sb := s.standby; sb != nil && sb.color == b.color {
		// The retirement of the session's last connection to this backend
		// parked it while this one was being dialed (a move back that
		// found no standby yet): one connection per backend is enough.
		s.standby = nil
		s.wg.Add(1)
		go func() { // Release takes s.mu, held here
			defer s.wg.Done()
			s.Release(sb)
		}()
	}
	s.wakeLocked()
	return old, nil
}

// Abort takes b out of the session after a failed attach: the channels
// keep their current source only. The caller releases b.
func (s *Session) Abort(b *Attachment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch, sb := range s.subs {
		if sb.next == b {
			sb.next = nil
			s.recoverGapLocked(ch, sb)
		}
	}
	b.incoming = false
	if s.next == b {
		s.next = nil
	}
}

// recoverGapLocked recovers channel ch on its one source, now that an
// overlap has ended, if a gap seen during it is still open. s.mu is held.
func (s *Session) recoverGapLocked(ch string, sb *sub) {
	gap := sb.gapAt
	sb.gapAt = 0
	if gap > 0 && (!sb.hasLast || sb.last < gap) && !s.closed {
		s.recoverLocked(ch, sb.src)
	}
}

// Drain waits until no request started on a is in flight, or ctx ends.
// Either way a retiring attachment's custom events stop reaching the
// client then: its requests are over (see HandleEvent).
func (s *Session) Drain(ctx context.Context, a *Attachment) error {
	s.mu.Lock()
	if a.inflight == 0 || a.dead {
		a.retiring = false
		s.mu.Unlock()
		return nil
	}
	if a.drained == nil {
		a.drained = make(chan struct{})
	}
	ch := a.drained
	s.mu.Unlock()
	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	a.retiring = false
	s.mu.Unlock()
	return err
}

// Release closes a on purpose (its end is not reported as a drop).
func (s *Session) Release(a *Attachment) {
	if a == nil {
		return
	}
	s.mu.Lock()
	a.closing, a.retiring = true, false
	a.stopWatchLocked()
	s.counters.EventsDropped.Add(uint64(len(a.early))) // a move never took it
	a.early = nil
	s.mu.Unlock()
	_ = a.conn.Close()
}

// Flush implements upstream.Handler: the connection's reader has handed
// over a batch, or a PublishAsync reply. A sink that paces (Pacer) may
// then hold the reader until its client has taken its queue.
func (a *Attachment) Flush() {
	a.s.sink.Flush()
	if a.s.pacer != nil {
		a.s.pacer.Pace()
	}
}

// HandleEvent implements upstream.Handler.
func (a *Attachment) HandleEvent(ev upstream.Event) {
	s := a.s
	switch ev.Kind {
	case upstream.KindMessage:
		s.onMessage(a, ev)
	case upstream.KindLost:
		s.mu.Lock()
		switch sb := s.subs[ev.Channel]; {
		case sb == nil || s.closed:
		case sb.src == a:
			s.recoverLocked(ev.Channel, a)
		case sb.next == a:
			a.lost = true        // the attach fails at its commit; the source stays
			s.endCatchUpLocked() // no use waiting for a's catch-up
		}
		s.mu.Unlock()
	default:
		// Custom events carry no seq, so two backends' copies cannot be
		// told apart. As for unsequenced messages, none is lost across a
		// move: those of the connection being brought in, and of the one
		// being retired until its requests are drained, reach the client
		// too, counted as possible duplicates when the current connection
		// is live. A standby's (idle, left every channel) are dropped.
		s.mu.Lock()
		switch {
		case s.closed:
		case a == s.att:
			s.deliverLocked(ev)
			s.mu.Unlock()
			return
		case !a.closing && (a == s.next || a.incoming || a.retiring):
			s.deliverEventLocked(ev)
			s.mu.Unlock()
			return
		case !a.closing && a.ahead && len(a.early) < maxEarlyEvents:
			a.early = append(a.early, ev.Clone()) // ev's bytes are lent
			s.mu.Unlock()
			return
		}
		s.counters.EventsDropped.Add(1)
		s.mu.Unlock()
	}
}

// deliverEventLocked delivers a custom event from a connection other
// than the session's current one, counted as a possible duplicate while
// the current one is live. s.mu is held.
func (s *Session) deliverEventLocked(ev upstream.Event) {
	if cur := s.att; cur != nil && !cur.dead {
		s.counters.EventsOverlap.Add(1)
	}
	s.deliverLocked(ev)
}

// onMessage applies the exactly-once rule (see Session).
func (s *Session) onMessage(a *Attachment, ev upstream.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.subs[ev.Channel]
	if s.closed || sb == nil || (a != sb.src && a != sb.next) {
		s.counters.Stale.Add(1)
		return
	}
	if a == sb.next {
		s.offeredLocked(sb, ev.Seq)
	}
	if sb.head != 0 && a == sb.src {
		s.advancedLocked(a, sb, ev.Seq)
	}
	switch {
	case ev.Seq == 0: // unsequenced: pass through from either source
		if sb.next != nil {
			s.counters.Unsequenced.Add(1)
		}
		s.deliverLocked(ev)
	case !sb.hasLast || ev.Seq == sb.last+1:
		sb.last, sb.hasLast = ev.Seq, true
		s.deliverLocked(ev)
	case ev.Seq <= sb.last:
		s.counters.Duplicates.Add(1)
	default:
		s.counters.Gaps.Add(1)
		// While a second source overlaps, it may still deliver the missing
		// seqs; a gap still open when the overlap ends recovers then
		// (recoverGapLocked).
		switch {
		case sb.next != nil:
			sb.gapAt = max(sb.gapAt, ev.Seq)
		case a == sb.src:
			s.recoverLocked(ev.Channel, a)
		}
	}
}

func (s *Session) deliverLocked(ev upstream.Event) {
	if err := s.sink.Deliver(ev); err != nil {
		s.counters.Rejected.Add(1)
	}
}

// recoverLocked starts restoring channel on a (subscribe again with
// since=last) unless a recovery is running. A running one mends what
// happened on its own connection before its subscribe was sent (the
// subscribe replays from the channel's last seq); anything else is left
// for it to redo as it ends. s.mu is held.
func (s *Session) recoverLocked(channel string, a *Attachment) {
	sb := s.subs[channel]
	if sb.recovering {
		if a != sb.recoverOn || sb.resubscribed {
			sb.redo = a
		}
		return
	}
	sb.recovering, sb.recoverOn, sb.resubscribed, sb.redo = true, a, false, nil
	s.wg.Add(1)
	go s.recover(channel, a, sb)
}

func (s *Session) recover(channel string, a *Attachment, sb *sub) {
	defer s.wg.Done()
	defer s.sink.Flush() // after s.mu is released: a lost channel's notice
	// The wait for the lock is bounded by the session only: an operation
	// holding it ends within its own bound, and a recovery given up here
	// would leave the channel silent for good.
	if err := s.LockOps(s.ctx); err != nil { // the session ended
		s.mu.Lock()
		sb.recovering, sb.recoverOn, sb.redo = false, nil, nil
		s.mu.Unlock()
		return
	}
	defer s.UnlockOps()
	ctx, cancel := context.WithTimeout(s.ctx, recoveryTimeout)
	defer cancel()
	var err error

	s.mu.Lock()
	current := s.subs[channel] == sb && sb.src == a && !a.dead && !s.closed
	since, hasSince := sb.last, sb.hasLast
	s.mu.Unlock()
	if current {
		// Leave first: the backend may still hold the broken subscription
		// (after a gap) or may have dropped it (subscription_lost); leaving
		// a channel not held is harmless either way.
		_ = a.conn.Unsubscribe(ctx, channel)
		s.mu.Lock()
		sb.resubscribed = true // a break from now on is the new subscription's
		s.mu.Unlock()
		_, err = a.conn.Subscribe(ctx, channel, since, hasSince)
		var refused *upstream.RemoteError
		if err != nil && !errors.As(err, &refused) {
			// No answer: the backend may have taken it all the same, and
			// would refuse the client's next subscribe as a duplicate.
			// Leave it, best effort, as Subscribe does.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
			_ = a.conn.Unsubscribe(uctx, channel)
			cancel()
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	redo := sb.redo
	sb.recovering, sb.recoverOn, sb.redo = false, nil, nil
	switch {
	case !current:
		// The channel was left or moved meanwhile; its new source was
		// subscribed with since=last, which restores it.
	case err == nil:
		s.counters.Recovered.Add(1)
	case a.dead || s.closed:
		// The connection ended: a re-attach restores every channel.
	default:
		s.counters.RecoveryFailed.Add(1)
		if s.subs[channel] == sb {
			delete(s.subs, channel)
			s.deliverLocked(upstream.Event{Kind: upstream.KindLost, Channel: channel, Data: lostReason(err)})
		}
	}
	if redo != nil && !redo.dead && redo == sb.src && s.subs[channel] == sb && !s.closed {
		// A gap or a loss this recovery did not mend (see recoverLocked),
		// after which the channel's next message may never come.
		s.recoverLocked(channel, redo)
	}
}

// Lose ends the session's subscription to channel for good and tells the
// client (a KindLost event, counted in RecoveryFailed), as a failed
// recovery does: a re-attach found the channel's history gone (err) on the
// new backend. The caller holds the operation lock and no session lock.
func (s *Session) Lose(channel string, err error) {
	s.mu.Lock()
	told := false
	if sb := s.subs[channel]; sb != nil && !s.closed {
		delete(s.subs, channel)
		s.counters.RecoveryFailed.Add(1)
		s.deliverLocked(upstream.Event{Kind: upstream.KindLost, Channel: channel, Data: lostReason(err)})
		told = true
	}
	s.mu.Unlock()
	if told {
		s.sink.Flush()
	}
}

// lostReason is the JSON string telling the client why a channel was lost.
func lostReason(err error) []byte {
	return jsonString(fmt.Sprint(err))
}

// HandleClose implements upstream.Handler.
func (a *Attachment) HandleClose(err error) {
	s := a.s
	s.mu.Lock()
	a.dead = true
	a.stopWatchLocked()
	stalled := a.stalled
	if s.standby == a {
		s.standby = nil
	}
	if a.drained != nil {
		close(a.drained)
		a.drained = nil
	}
	drop := a == s.att && !a.closing && !s.closed
	s.mu.Unlock()
	if drop && s.onDrop != nil {
		switch {
		case stalled:
			err = ErrStalled // closed by its watchdog, err is nil
		case err == nil:
			err = ErrAttachmentEnded
		}
		s.onDrop(s, err)
	}
}
