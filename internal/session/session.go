package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/upstream"
)

// Errors returned by Session methods.
var (
	// ErrClosed: the session has ended.
	ErrClosed = errors.New("session: closed")
	// ErrAlreadySubscribed: Subscribe to a channel the session holds.
	ErrAlreadySubscribed = errors.New("session: already subscribed")
	// ErrNotSubscribed: Unsubscribe from a channel the session does not hold.
	ErrNotSubscribed = errors.New("session: not subscribed")
	// ErrStillSubscribed: Unsubscribe whose context ended before it could
	// take the session's operations (a move held them): nothing changed,
	// the session still holds the channel and delivers it. It wraps the
	// context's error.
	ErrStillSubscribed = errors.New("session: still subscribed")
	// ErrTooManySubscriptions: Subscribe beyond Options.MaxSubscriptions.
	ErrTooManySubscriptions = errors.New("session: too many subscriptions")
	// ErrInvalidChannel: an empty or oversized channel name.
	ErrInvalidChannel = errors.New("session: invalid channel name")
	// ErrAttachmentEnded: the backend connection being attached ended
	// before it could take over.
	ErrAttachmentEnded = errors.New("session: backend connection ended")
	// ErrLostWhileBroughtIn: the backend connection being attached dropped
	// a channel (subscription_lost) before it could take over.
	ErrLostWhileBroughtIn = errors.New("session: the new backend connection lost a channel before taking over")
	// ErrStalled: the session's backend connection acknowledged its
	// subscribes and then did not bring a channel up to the position its
	// ack announced (see Watch). OnDrop receives it.
	ErrStalled = errors.New("session: the backend acknowledged a subscribe and then stalled before the position its ack announced")
	// ErrCarriedSinceGone: a Subscribe without since, carried over to a
	// re-attach from the last message the old backend sent for it, was
	// refused that since (upstream.HistoryGone). It wraps the refusal. The
	// client asked for no history, and has not seen those messages if
	// they are still held for the ack: then the subscribe can start over
	// without since.
	ErrCarriedSinceGone = errors.New("session: the since a subscribe was carried over with is gone")
)

// Sink is the client side of a session; the edge implements it.
//
// Both methods are called with the session's lock held (that is what keeps
// each channel in order across two backend streams), so they must not block
// and must not call back into the Session.
type Sink interface {
	// Deliver hands one event to the client without blocking, applying the
	// edge's bounded outbound queue and its overflow rule. An error means
	// the event was not queued; the session counts it (Counters.Rejected)
	// and the edge decides whether the client stays.
	//
	// Kinds: upstream.KindMessage (a channel message, in seq order, each
	// seq once), upstream.KindEvent (a custom event from the backend), and
	// upstream.KindLost (the session lost a subscription for good: the
	// backend refused to restore it after a gap or a subscription_lost;
	// the channel is no longer subscribed; Data is the reason as a JSON
	// string). As in upstream.Handler.HandleEvent, the event's bytes are
	// valid only until Deliver returns: a sink that queues them keeps a
	// copy or their encoding.
	Deliver(upstream.Event) error
	// Flush writes out what the Delivers before it queued, and the
	// replies of PublishAsync. The session calls it, on the goroutine that
	// delivered and with no lock of its own held, after every Deliver or
	// batch of them: a sink may leave the write to Flush, so that a batch
	// goes out in one write with no other goroutine woken.
	Flush()
	// Close ends the client connection: the gateway gave up on the session
	// (for example no backend could take it). reason says why.
	Close(reason error)
}

// A Pacer is a Sink that can hold its backend connections' readers for
// the client: Pace returns once the client's queue has room again (at
// most half full), or after a short bounded wait when the client is not
// reading, leaving the overflow rule to decide. The session calls it after
// each Flush, on the connection's reader. Each session has connections of
// its own, so the wait holds back only that session's backend traffic (in
// TCP, and in the backend's own queue for the connection), and a backend's
// burst for one client (a replay of history longer than the client's
// queue) reaches it as fast as it reads instead of overflowing its queue.
//
// Behind reports whether the client is behind now, so that Pace would
// hold a reader: it has not taken enough of its queue. The stall
// watchdog (Watch) does not hold against a backend the time its client
// keeps the session's readers waiting.
type Pacer interface {
	Sink
	Pace()
	Behind() bool
}

// Options configure a Session.
type Options struct {
	// ID names the session; empty means a random one.
	ID string
	// User is the user key the router places the session by.
	User string
	// Protocol is the client's (edge) protocol.
	Protocol config.Protocol
	// Sink receives the session's traffic. Required.
	Sink Sink
	// MaxSubscriptions caps the channels held at once. Zero means
	// config.DefaultMaxSubscriptions.
	MaxSubscriptions int
	// RequestTimeout bounds how long Publish, PublishAsync, Request, Emit
	// and Subscribe wait for a live attachment while the session has none
	// (a re-attach is under way), when their context has no sooner
	// deadline: PublishAsync's usually has none, its answer being bounded
	// by the backend connection. The wait then fails with an error
	// wrapping context.DeadlineExceeded. Zero means
	// config.DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Counters receives the session's counts; sessions usually share one.
	// Nil means a private one.
	Counters *Counters
	// OnDrop is called when the session's current backend connection ends
	// without being asked to, so that the owner re-attaches the session. It
	// runs on that connection's reading goroutine: it must not block (start
	// the re-attach on another goroutine).
	OnDrop func(s *Session, err error)
}

// Counters are what sessions count, all monotonic. They are shared by many
// sessions and safe for concurrent use.
type Counters struct {
	// Duplicates: messages dropped because their seq was already delivered
	// (the overlap of two backends during a move, or a replay).
	Duplicates atomic.Uint64
	// Gaps: messages whose seq skipped ahead of the last delivered one;
	// each starts a recovery unless one is running.
	Gaps atomic.Uint64
	// Recovered / RecoveryFailed: subscriptions restored with since after
	// a gap or a backend's subscription_lost, or given up (the client is
	// told with a KindLost event).
	Recovered      atomic.Uint64
	RecoveryFailed atomic.Uint64
	// Stale: messages from a backend connection that is not a source of the
	// channel (a channel left, or the old backend after a cut-over).
	Stale atomic.Uint64
	// Unsequenced: messages without seq delivered while two backends
	// overlapped; each may be a duplicate.
	Unsequenced atomic.Uint64
	// EventsOverlap: custom events delivered from a backend connection
	// being brought in or being retired, next to the current one's; each
	// may be a duplicate.
	EventsOverlap atomic.Uint64
	// EventsDropped: custom events from a backend connection that is none
	// of these (a standby, or one already closed).
	EventsDropped atomic.Uint64
	// Rejected: events the Sink refused (its queue was full).
	Rejected atomic.Uint64
}

// Session is one client's state in the gateway, the unit that moves between
// backends: id, user key, edge protocol, the subscriptions with the last
// delivered seq of each channel, the requests in flight, the Sink towards
// the client, and the current backend attachment.
//
// # Exactly once, in order
//
// Every channel has one source (the attachment it is subscribed on) and,
// while the session is being attached elsewhere, a second one. A message is
// accepted from either source only when its seq is last+1, then last
// advances; seq <= last is a duplicate (dropped, counted); seq > last+1 is
// a gap (dropped, counted, and the channel is recovered by subscribing
// again on its source with since=last, which replays from the first missing
// seq). The first message of a subscription without a known position sets
// it. Because each backend's stream is itself gap-free and a new source is
// subscribed with since=last, two overlapping sources can only ever offer
// last+1 or an older seq: the client sees every seq once, in order, whichever
// stream is faster. Messages without seq (seq 0) are passed through from
// either source: nothing is lost, duplicates are possible during an
// overlap (counted in Unsequenced). Custom events, which have no seq,
// follow the same rule across a move: from the current connection, the one
// being brought in, and the one being retired until its drain ends
// (counted in EventsOverlap).
//
// # Concurrency
//
// Two locks. The operation lock (LockOps/UnlockOps, context-aware)
// serializes what changes the set of subscriptions or the attachment:
// Subscribe, Unsubscribe, a recovery, and a whole attach or move by package
// handover. mu guards the state and is held only for short, non-blocking
// sections, including Sink calls. Lock order: operation lock, then mu, then
// the Sink's own locks. Backend connections call in (HandleEvent,
// HandleClose) under no session lock.
//
// Publish, Request and Emit do not take the operation lock: they go to the
// current attachment at the moment they start and finish there, even if a
// move switches the session meanwhile (the old attachment is closed only
// after its in-flight requests end, or after the drain timeout). While the
// session has no live attachment (a re-attach is under way) they wait for
// one, within their context and Options.RequestTimeout.
type Session struct {
	id       string
	user     string
	protocol config.Protocol
	sink     Sink
	pacer    Pacer // sink, when it paces; nil otherwise
	maxSubs  int
	waitMax  time.Duration // Options.RequestTimeout
	counters *Counters
	onDrop   func(*Session, error)

	ops    chan struct{} // the operation lock: one token
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // recoveries

	mu       sync.Mutex
	subs     map[string]*sub
	att      *Attachment   // current attachment; nil before the first
	next     *Attachment   // attachment being brought in, during an attach
	standby  *Attachment   // idle connection to the backend left last (standby.go)
	catching *catchUp      // the CatchUp under way, nil when none
	attached chan struct{} // closed when att changes; nil when nobody waits
	closed   bool
}

// sub is one channel's state.
type sub struct {
	last       uint64 // seq of the last delivered message
	hasLast    bool   // last is known
	src        *Attachment
	next       *Attachment // second source while an attach overlaps
	recovering bool
	// recoverOn is the connection the running recovery restores the
	// channel on, and resubscribed says its subscribe has been sent. redo
	// is a source on which a gap or a loss came that the running recovery
	// does not mend: another connection (a move committed meanwhile), or
	// its own once the subscribe was sent (the new subscription broke).
	// The recovery starts another on it as it ends.
	recoverOn    *Attachment
	resubscribed bool
	redo         *Attachment
	// gapAt is the highest seq seen past a gap while a second source
	// overlapped (0: none). The other source may still fill the gap; if
	// it has not when the overlap ends (Commit, Abort), the channel
	// recovers then.
	gapAt uint64
	// nextTop is the highest seq next has offered (since, from Overlap
	// on), delivered or not; nextUnseq says next sent a message without
	// seq. CatchUp reads them. nextHead is the channel's newest seq that
	// next's ack of a subscribe with since announced (0: none; Acked),
	// which Commit carries into head while next has not offered it.
	nextTop   uint64
	nextUnseq bool
	nextHead  uint64
	// head is the seq that src's ack announced and src has not offered
	// yet (0: none): what its stall watchdog waits for (stall.go).
	head uint64
	// catchTo is the seq next must offer before CatchUp returns (0: none).
	catchTo uint64
}

// New returns a session with no attachment yet; package handover (or the
// gateway) attaches it.
func New(opts Options) (*Session, error) {
	if opts.Sink == nil {
		return nil, errors.New("session: Options.Sink is required")
	}
	if opts.ID == "" {
		opts.ID = rand.Text()
	}
	if opts.MaxSubscriptions <= 0 {
		opts.MaxSubscriptions = config.DefaultMaxSubscriptions
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = config.DefaultRequestTimeout
	}
	if opts.Counters == nil {
		opts.Counters = new(Counters)
	}
	pacer, _ := opts.Sink.(Pacer)
	ctx, cancel := context.WithCancel(context.Background())
	return &Session{
		id:       opts.ID,
		user:     opts.User,
		protocol: opts.Protocol,
		sink:     opts.Sink,
		pacer:    pacer,
		maxSubs:  opts.MaxSubscriptions,
		waitMax:  opts.RequestTimeout,
		counters: opts.Counters,
		onDrop:   opts.OnDrop,
		ops:      make(chan struct{}, 1),
		ctx:      ctx,
		cancel:   cancel,
		subs:     make(map[string]*sub),
	}, nil
}

// ID is the session id.
func (s *Session) ID() string { return s.id }

// User is the user key.
func (s *Session) User() string { return s.user }

// Protocol is the client's protocol.
func (s *Session) Protocol() config.Protocol { return s.protocol }

// Counters are the counters the session reports to.
func (s *Session) Counters() *Counters { return s.counters }

// Attached reports the color of the current attachment, and false while
// the session has no live one (not attached yet, or re-attaching).
func (s *Session) Attached() (router.Color, bool) {
	p := s.Placement()
	return p.Backend, p.Live
}

// AttachedFor is how long the session's attachment, live or not, has
// been its own (0 before the first): read when it drops, it tells a
// backend that drops connections soon after taking them.
func (s *Session) AttachedFor() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.att == nil {
		return 0
	}
	return time.Since(s.att.current)
}

// Placement is where a session stands, read under one lock: its
// attachment's backend (Blue before the first) and whether it is live,
// and whether it holds a live standby. Status reads it for every session.
type Placement struct {
	Backend    router.Color
	Live       bool
	HasStandby bool
}

// Placement returns where the session stands.
func (s *Session) Placement() Placement {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p Placement
	if s.att != nil {
		p.Backend, p.Live = s.att.color, !s.att.dead
	}
	p.HasStandby = s.standby != nil && !s.standby.dead
	return p
}

// Color is the backend the session is attached to (or was last attached
// to, while re-attaching); Blue before the first attachment.
func (s *Session) Color() router.Color {
	c, _ := s.Attached()
	return c
}

// Closed reports whether the session has ended.
func (s *Session) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.ctx.Done() }

// Info is a snapshot of a session for operators.
type Info struct {
	ID       string
	User     string
	Protocol config.Protocol
	Backend  router.Color
	// Attached is false while the session has no live backend connection.
	Attached      bool
	Closed        bool
	Subscriptions []SubscriptionInfo
}

// SubscriptionInfo is one channel of a session.
type SubscriptionInfo struct {
	Channel string
	// LastSeq is the seq of the last message delivered; HasLast is false
	// while the channel's position is unknown.
	LastSeq uint64
	HasLast bool
}

// Info returns a snapshot of the session.
func (s *Session) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := Info{ID: s.id, User: s.user, Protocol: s.protocol, Closed: s.closed}
	if s.att != nil {
		in.Backend, in.Attached = s.att.color, !s.att.dead
	}
	in.Subscriptions = make([]SubscriptionInfo, 0, len(s.subs))
	for ch, sb := range s.subs {
		in.Subscriptions = append(in.Subscriptions, SubscriptionInfo{Channel: ch, LastSeq: sb.last, HasLast: sb.hasLast})
	}
	return in
}

// Subscribed reports whether the session holds channel: whether its
// messages, if any, are delivered. last is the channel's position: the
// seq of its last delivered message, or the one its subscribe's ack gave
// (0: none); the session delivers no message with a seq at or below it.
func (s *Session) Subscribed(channel string) (last uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.subs[channel]
	if sb == nil || s.closed {
		return 0, false
	}
	return sb.last, true
}

// LockOps takes the operation lock (see Session), giving up when ctx ends
// or the session closes.
func (s *Session) LockOps(ctx context.Context) error {
	select {
	case s.ops <- struct{}{}:
		// select picks at random among ready cases: an ended ctx or
		// session must not win the lock.
		switch {
		case ctx.Err() != nil:
			<-s.ops
			return ctx.Err()
		case s.ctx.Err() != nil:
			<-s.ops
			return ErrClosed
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// UnlockOps releases the operation lock.
func (s *Session) UnlockOps() { <-s.ops }

// Close ends the session: both backend connections are closed and waiting
// calls fail with ErrClosed. It does not touch the Sink (the edge calls
// Close when its client has gone). Idempotent.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	atts := []*Attachment{s.att, s.next, s.standby}
	s.standby = nil
	for _, a := range atts {
		if a != nil {
			a.closing = true
			a.stopWatchLocked()
		}
	}
	s.wakeLocked()
	s.mu.Unlock()
	s.cancel()
	for _, a := range atts {
		if a != nil && a.conn != nil {
			_ = a.conn.Close()
		}
	}
	s.wg.Wait()
}

// Abandon closes the session and its client with reason: used when the
// gateway cannot keep the session on any backend.
func (s *Session) Abandon(reason error) {
	s.Close()
	s.sink.Close(reason)
}

// wakeLocked releases the calls waiting for an attachment; s.mu is held.
func (s *Session) wakeLocked() {
	if s.attached != nil {
		close(s.attached)
		s.attached = nil
	}
}

func (s *Session) String() string { return fmt.Sprintf("session %s (user %q)", s.id, s.user) }
