// Package handover attaches a session to a backend make-before-break: the
// first attachment, a live move between blue and green, and the re-attach
// after a backend connection dropped are one procedure.
//
// # Attach
//
//  1. Take the session's operation lock, so that its set of channels does
//     not change meanwhile (the client's subscribe waits; its publishes and
//     requests keep flowing to the current backend).
//  2. Dial B (the dialer's timeout; the whole of 2–4 is bounded by
//     Options.Timeout).
//  3. Make B a second source of every channel (session.Overlap) and
//     subscribe each channel on B with since = the last seq delivered to the
//     client, all channels at once. B replays what the client has not seen
//     yet and continues live; the current backend A keeps delivering too.
//     The session's seq rule accepts each seq once, from whichever stream
//     brings it first, so the overlap neither loses nor duplicates.
//  4. When B has acknowledged every channel and caught up with the client
//     (session.CatchUp: B has offered, on each channel, the seq the client
//     had by then), commit: B becomes the only source of every channel and
//     the session's attachment, atomically. Having been subscribed with
//     since=last, B's stream continues the client's without a gap; the
//     catch-up shows that it does stream it, rather than ack and stall,
//     which would leave the client without messages once A stops being a
//     source.
//  5. Release the operation lock, wait (Options.DrainTimeout) for the
//     requests in flight on A, and close A.
//
// Each ack of step 3 also announces its channel's newest seq, which B
// replays before anything later. The commit does not wait for B to get
// there (a slow client holds B's reader back, see session.Pacer), but B
// is watched from then on (session.Watch): if it brings none of those
// channels any closer for Options.Timeout while the client is not
// behind, it acked and stalled, and its connection is closed and
// reported as a drop (session.ErrStalled), for the owner to re-attach.
// On a re-attach, where A delivers nothing, that is all that shows such
// a backend.
//
// Any failure in 2–4 (dial, handshake, a refused subscribe such as
// history_gone, B dropping, B losing a channel before the commit with
// subscription_lost, the timeout, also while B has not caught up) aborts: B stops being a source
// and is closed, and the session stays on A exactly as it was; A never
// stopped being a source, so its stream has no hole to mend. The error is
// returned for the caller to count.
//
// Why commit all channels at once rather than each channel at its own
// ack: a channel cut over alone would stop accepting A's messages, and if
// a later channel then failed, going back to A could leave a hole for the
// messages A sent during the cut. Holding both sources until the commit
// costs only some duplicate messages, which the seq rule drops.
//
// # Standby
//
// With Options.Standby, step 5 keeps A instead of closing it, once A has
// left every channel: an idle connection held by the session as its
// standby (session.Park). A later attach to A's backend takes the
// standby in place of step 2's dial, so the way back costs a resubscribe,
// not a TCP and protocol handshake. The gateway keeps blue standbys while
// a rollout runs, which is what makes an emergency rollback fast. A
// standby that ends is only forgotten.
//
// # Re-attach
//
// When the session's connection ends without being asked to, Reattach runs
// the same procedure with the dead connection as A: since A delivers
// nothing any more, B's replay from the last delivered seqs restores every
// channel. It tries the preferred backend, then the other one. A channel
// whose history B refuses as gone (history_gone: the stream restarted, or
// moved past the client's position; bad_since: the stream restarted under
// a backend that did not see it) cannot be restored on any backend of
// the broker: the session loses that channel, and the client is told, as
// after a failed recovery (session.Lose), while its other channels are
// re-attached. A move keeps failing on it instead, since A still serves.
//
// # Pacing
//
// Pacer limits how many attaches start per second and how many run at once,
// so that a weight change does not dial thousands of connections to the
// target backend in the same instant.
package handover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
)

// Options bound one attach.
type Options struct {
	// Timeout bounds dialing, subscribing and committing, and, once
	// committed, how long the new backend may stall short of the
	// positions its acks announced (session.Watch). Zero means
	// config.DefaultHandoverTimeout.
	Timeout time.Duration
	// DrainTimeout bounds the wait for the old backend's requests in flight
	// before it is closed. Zero means config.DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Retire runs the old attachment's drain-and-close after a successful
	// move or attach. Nil runs it before Move returns. A caller pacing many
	// moves hands it to a background goroutine instead, so that a move's
	// slot frees as soon as the session is on its new backend rather than
	// after the old backend has answered the close.
	Retire func(retire func())
	// Standby says whether an attachment to backend from, left by a
	// move, is kept as the session's standby (its channels left, the
	// connection idle; see session.Park) instead of being closed, so that
	// a move back skips the dial. Nil keeps none.
	Standby func(from router.Color) bool
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = config.DefaultHandoverTimeout
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = config.DefaultDrainTimeout
	}
	return o
}

// Stage names the step of an attach that failed.
type Stage string

// Stages of an attach.
const (
	StageLock      Stage = "lock"
	StageDial      Stage = "dial"
	StageSubscribe Stage = "subscribe"
	StageCatchUp   Stage = "catch_up"
	StageCommit    Stage = "commit"
)

// Error is a failed attach. The session is unchanged.
type Error struct {
	Session string
	To      router.Color
	Stage   Stage
	Channel string // for StageSubscribe
	Err     error
}

func (e *Error) Error() string {
	where := string(e.Stage)
	if e.Channel != "" {
		where += fmt.Sprintf(" %q", e.Channel)
	}
	return fmt.Sprintf("handover: session %s to %s: %s: %v", e.Session, e.To, where, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Attach attaches s to backend to through d, make-before-break (see the
// package documentation), whether or not it is attached there already.
func Attach(ctx context.Context, s *session.Session, to router.Color, d upstream.Dialer, opts Options) error {
	if err := s.LockOps(ctx); err != nil {
		return &Error{Session: s.ID(), To: to, Stage: StageLock, Err: err}
	}
	old, resumes, err := attachLocked(ctx, s, to, d, opts, false)
	s.UnlockOps()
	if err != nil {
		return err
	}
	retireAfter(s, old, resumes, opts)
	return nil
}

// Move attaches s to backend to unless it is attached there already. It
// reports whether the session moved: a session not attached yet (a new
// one, between its registration and its first attach) is attached, but
// that is no move.
func Move(ctx context.Context, s *session.Session, to router.Color, d upstream.Dialer, opts Options) (bool, error) {
	if err := s.LockOps(ctx); err != nil {
		return false, &Error{Session: s.ID(), To: to, Stage: StageLock, Err: err}
	}
	if c, live := s.Attached(); c == to && live {
		s.UnlockOps()
		return false, nil
	}
	old, resumes, err := attachLocked(ctx, s, to, d, opts, false)
	s.UnlockOps()
	if err != nil {
		return false, err
	}
	retireAfter(s, old, resumes, opts)
	return old != nil, nil
}

// Reattach restores a session whose connection dropped: on prefer, or on
// the other backend when that fails. It does nothing when the session has
// a live attachment again (a move or another re-attach got there first).
// dial returns the dialer of a backend. It returns the backend used.
func Reattach(ctx context.Context, s *session.Session, prefer router.Color, dial func(router.Color) upstream.Dialer, opts Options) (router.Color, error) {
	if err := s.LockOps(ctx); err != nil {
		return prefer, &Error{Session: s.ID(), To: prefer, Stage: StageLock, Err: err}
	}
	defer s.UnlockOps()
	if c, live := s.Attached(); live {
		return c, nil
	}
	var errs []error
	for _, to := range []router.Color{prefer, prefer.Other()} {
		old, _, err := attachLocked(ctx, s, to, dial(to), opts, true)
		if err == nil {
			// old is dead: nothing to drain, only its resources to free.
			s.Release(old)
			return to, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil || s.Closed() {
			break
		}
	}
	return prefer, errors.Join(errs...)
}

// attachLocked runs steps 2–4; the caller holds the operation lock. It
// returns the previous attachment on success, with where the session's
// channels stood on it. A standby on backend to stands in for the dial.
// With reattach (the previous attachment is dead), a channel whose
// history the backend refuses as gone is lost rather than failing the
// attach (see the package documentation).
func attachLocked(ctx context.Context, s *session.Session, to router.Color, d upstream.Dialer, opts Options, reattach bool) (*session.Attachment, []session.Resume, error) {
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	b, resumes, err := bringIn(ctx, s, to, d, s.TakeStandby(to), reattach)
	if errors.Is(err, errStandby) && ctx.Err() == nil {
		// A standby idle for a whole rollout may have been cut (a
		// middlebox's idle timeout) without its end showing yet: dial.
		b, resumes, err = bringIn(ctx, s, to, d, nil, reattach)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.CatchUp(ctx, b); err != nil {
		s.Abort(b)
		s.Release(b)
		return nil, nil, &Error{Session: s.ID(), To: to, Stage: StageCatchUp, Err: err}
	}
	old, err := s.Commit(b)
	if err != nil {
		s.Abort(b)
		s.Release(b)
		return nil, nil, &Error{Session: s.ID(), To: to, Stage: StageCommit, Err: err}
	}
	s.Watch(b, opts.Timeout)
	return old, resumes, nil
}

// errStandby marks a failure on a standby, which a dial may mend.
var errStandby = errors.New("on the standby")

// bringIn makes b (dialed now when nil) a second source of every channel
// of s and subscribes them on it: steps 2 and 3. On failure b is out of
// the session and released. With loseGone, a channel whose history b
// refuses as gone is lost (session.Lose) instead of failing.
func bringIn(ctx context.Context, s *session.Session, to router.Color, d upstream.Dialer, b *session.Attachment, loseGone bool) (*session.Attachment, []session.Resume, error) {
	standby := b != nil
	if !standby {
		var err error
		if b, err = s.Dial(ctx, to, d); err != nil {
			return nil, nil, &Error{Session: s.ID(), To: to, Stage: StageDial, Err: err}
		}
	}
	resumes := s.Overlap(b)
	c := b.Conn()
	var (
		mu   sync.Mutex
		gone []goneChannel
	)
	if ch, err := eachChannel(ctx, resumes, func(ctx context.Context, r session.Resume) error {
		pos, err := c.Subscribe(ctx, r.Channel, r.Since, r.HasSince)
		if err == nil {
			s.Acked(b, r, pos)
		}
		if err != nil && loseGone && upstream.HistoryGone(err) {
			mu.Lock()
			gone = append(gone, goneChannel{r.Channel, err})
			mu.Unlock()
			return nil
		}
		return err
	}); err != nil {
		s.Abort(b)
		s.Release(b)
		if standby {
			err = fmt.Errorf("%w: %w", errStandby, err)
		}
		return nil, nil, &Error{Session: s.ID(), To: to, Stage: StageSubscribe, Channel: ch, Err: err}
	}
	if len(gone) == 0 {
		return b, resumes, nil
	}
	kept := resumes[:0:0]
	for _, r := range resumes {
		if !slices.ContainsFunc(gone, func(g goneChannel) bool { return g.channel == r.Channel }) {
			kept = append(kept, r)
		}
	}
	for _, g := range gone {
		s.Lose(g.channel, g.err)
	}
	return b, kept, nil
}

// goneChannel is a channel whose history a backend refused as gone.
type goneChannel struct {
	channel string
	err     error
}

// eachChannel runs op for every channel at once and returns the first
// failure and its channel.
func eachChannel(ctx context.Context, resumes []session.Resume, op func(context.Context, session.Resume) error) (string, error) {
	switch len(resumes) {
	case 0:
		return "", nil
	case 1: // the common case: no goroutine, no group
		return resumes[0].Channel, op(ctx, resumes[0])
	}
	g, gctx := errgroup.WithContext(ctx)
	failed := make(chan string, 1)
	for _, r := range resumes {
		g.Go(func() error {
			err := op(gctx, r)
			if err != nil {
				select {
				case failed <- r.Channel:
				default:
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return <-failed, err
	}
	return "", nil
}

// retireAfter retires old through opts.Retire, or now.
func retireAfter(s *session.Session, old *session.Attachment, resumes []session.Resume, opts Options) {
	if old == nil {
		return
	}
	if opts.Retire != nil {
		opts.Retire(func() { retire(s, old, resumes, opts) })
		return
	}
	retire(s, old, resumes, opts)
}

// retire lets the old attachment's requests finish (bounded), then keeps
// it as the session's standby (opts.Standby) once it has left the
// channels it held, or closes it.
func retire(s *session.Session, old *session.Attachment, resumes []session.Resume, opts Options) {
	if s.Closed() { // its requests end with it
		s.Release(old)
		return
	}
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), opts.DrainTimeout)
	defer cancel()
	_ = s.Drain(ctx, old) // on timeout the requests fail with the close
	if opts.Standby != nil && opts.Standby(old.Color()) && leaveAll(ctx, old.Conn(), resumes) && s.Park(old, opts.Standby) {
		return
	}
	s.Release(old)
}

// leaveAll unsubscribes every channel on c and reports whether all went.
func leaveAll(ctx context.Context, c upstream.Conn, resumes []session.Resume) bool {
	_, err := eachChannel(ctx, resumes, func(ctx context.Context, r session.Resume) error {
		return c.Unsubscribe(ctx, r.Channel)
	})
	return err == nil
}
