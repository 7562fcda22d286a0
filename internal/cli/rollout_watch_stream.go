package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/sleep"
)

// reconnectPolicy says how watch rides out a lost event stream.
type reconnectPolicy struct {
	// giveUpAfter is how long watch goes on trying without a connection;
	// zero ends watch at the first loss, as a plain stream reader would.
	giveUpAfter time.Duration
	// minDelay doubles up to maxDelay between attempts, reset by a
	// connection that delivered an event.
	minDelay, maxDelay time.Duration
	// idle is how long a connected stream may stay silent. The gateway
	// writes a metrics event every second and a heartbeat every 15s, so
	// silence means a peer that vanished without closing (a host gone, a
	// black-holing middlebox), which TCP alone would notice only much later.
	idle time.Duration
}

func defaultReconnect(giveUpAfter time.Duration) reconnectPolicy {
	return reconnectPolicy{giveUpAfter: giveUpAfter, minDelay: 200 * time.Millisecond, maxDelay: 5 * time.Second, idle: 45 * time.Second}
}

var (
	// errStreamIdle ends a connection that delivered nothing for the
	// policy's idle time.
	errStreamIdle = errors.New("the event stream went silent")
	// errNoConnection ends a connection attempt still unanswered when the
	// reconnect budget runs out.
	errNoConnection = errors.New("no answer from the admin API")
)

// lostError ends watch when no connection succeeded for the whole
// reconnect budget.
type lostError struct {
	after time.Duration
	last  error
}

func (e *lostError) Error() string {
	return fmt.Sprintf("gave up: no connection to the admin API for %v (last error: %v)", e.after, e.last)
}
func (e *lostError) Unwrap() error { return e.last }
func (e *lostError) ExitCode() int { return exitLost }

var _ exitCoder = (*lostError)(nil)

// watcher follows the rollout across connections.
type watcher struct {
	c  *adminClient
	ui *watchUI
	m  *watchModel
	rp reconnectPolicy

	outage bool // a loss was announced and no connection has delivered since

	// next (--next) passes over a rollout found ended at watch's first
	// look; passing is then the id of that rollout, until another starts
	// or it moves again (a rollback after it completed).
	next    bool
	looked  bool
	passing bool
	passed  string
}

// settle turns ended, whether the rollout in the model has ended as far
// as the latest event or status says, into whether watch is to report
// it. A rollout found ended at watch's first look is reported, saying
// that it ended before watch started: a script's `rollout start` then
// `watch` must learn the end of a rollout that ended quickly. With
// --next it is passed over, and the next one followed.
func (w *watcher) settle(ended bool) bool {
	st := w.m.status
	if !w.looked {
		w.looked = true
		if ended {
			at := ""
			if !st.EndedAt.IsZero() {
				at = " at " + st.EndedAt.Local().Format(time.DateTime)
			}
			if !w.next {
				w.ui.note(fmt.Sprintf("rollout %s had already ended (%s%s) when watch started: this is its result, not a new rollout's; `baton rollout watch --next` waits for the next rollout to start", st.ID, st.State, at))
				return true
			}
			w.ui.note(fmt.Sprintf("rollout %s had already ended (%s%s); waiting for the next rollout to start…", st.ID, st.State, at))
			w.passing, w.passed = true, st.ID
			return false
		}
	}
	if w.passing {
		if admin.Terminal(st.State) && st.ID == w.passed {
			return false
		}
		w.passing = false
	}
	return ended
}

// followResult is how one connection ended: done with the command's
// result, or lost (err says why) to be retried.
type followResult struct {
	done      bool
	connected bool // an event was read: the reconnect budget starts afresh
	err       error
}

// run follows the stream until the rollout ends, an error another attempt
// would not cure, ctx ends or the reconnect budget runs out.
func (w *watcher) run(ctx context.Context) error {
	delay := w.rp.minDelay
	// Without a connection since: the first attempt has the same budget
	// as a reconnection, so a gateway still starting up is waited for.
	since := time.Now()
	var last error // why the latest attempt failed
	for attempt := 0; ; attempt++ {
		r := w.follow(ctx, since.Add(w.rp.giveUpAfter), attempt > 0)
		if r.done {
			return r.err
		}
		if r.connected {
			since, delay = time.Now(), w.rp.minDelay
		}
		if w.rp.giveUpAfter <= 0 {
			return r.err
		}
		// An attempt cut short by the budget says less than the one before.
		if last == nil || !errors.Is(r.err, errNoConnection) {
			last = r.err
		}
		left := time.Until(since.Add(w.rp.giveUpAfter))
		if left <= 0 {
			return &lostError{after: w.rp.giveUpAfter, last: last}
		}
		if !w.outage {
			w.outage = true
			w.ui.note(fmt.Sprintf("%s %v; reconnecting…", time.Now().Format("15:04:05"), r.err))
		}
		// Jitter spreads the watchers of one restarted gateway apart.
		wait := min(delay/2+rand.N(delay/2+1), left)
		if err := sleep.For(ctx, wait); err != nil {
			return err
		}
		delay = min(delay*2, w.rp.maxDelay)
	}
}

// follow reads one connection's stream. resync re-reads the status first,
// for the transitions missed while disconnected.
func (w *watcher) follow(ctx context.Context, deadline time.Time, resync bool) followResult {
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var budget *time.Timer
	if w.rp.giveUpAfter > 0 {
		budget = time.AfterFunc(time.Until(deadline), func() { cancel(errNoConnection) })
		defer budget.Stop()
	}
	// lost classifies an error: ctx's end and refusals another attempt
	// would meet again end watch; the rest are worth a retry.
	lost := func(err error, connected bool) followResult {
		switch {
		case ctx.Err() != nil:
			return followResult{done: true, err: ctx.Err()}
		case errors.Is(context.Cause(cctx), errStreamIdle):
			err = fmt.Errorf("%w: %w", errStreamEnded, errStreamIdle)
		case context.Cause(cctx) != nil:
			err = context.Cause(cctx)
		case refused(err):
			return followResult{done: true, err: err}
		}
		return followResult{connected: connected, err: err}
	}

	resp, err := w.c.request(cctx, http.MethodGet, "/api/v1/events", nil)
	if err != nil {
		return lost(err, false)
	}
	defer func() { _ = resp.Body.Close() }()
	idle := time.AfterFunc(w.rp.idle, func() { cancel(errStreamIdle) })
	defer idle.Stop()

	// The stream is subscribed before its headers are written, so the
	// status read now misses no transition.
	if resync {
		var st admin.RolloutStatus
		if _, err := w.c.call(cctx, http.MethodGet, "/api/v1/rollout", nil, &st); err != nil {
			return lost(err, false)
		}
		// Waited for (--next), another rollout is no replacement.
		if prev := w.m.status.ID; !w.passing && prev != "" && st.ID != "" && st.ID != prev {
			return followResult{done: true, err: fmt.Errorf("rollout %s ended while watch was disconnected and %s began; see `baton rollout status`", prev, st.ID)}
		}
		w.m.status = st
		if w.settle(admin.Terminal(st.State)) {
			w.reconnected()
			return followResult{done: true, err: finishWatch(ctx, w.c, w.m, w.ui)}
		}
	}

	er := admin.NewEventReader(&idleReader{r: resp.Body, t: idle, idle: w.rp.idle})
	connected := false
	for {
		ev, err := er.Next()
		if err != nil {
			if errors.Is(err, admin.ErrEventTooLarge) {
				return followResult{done: true, err: err}
			}
			if errors.Is(err, io.EOF) {
				err = errStreamEnded
			} else {
				err = fmt.Errorf("%w: %w", errStreamEnded, err)
			}
			return lost(err, connected)
		}
		if !connected {
			connected = true
			if budget != nil {
				budget.Stop()
			}
			w.reconnected()
		}
		ended, err := w.m.apply(ev)
		if err == nil {
			err = w.ui.event(ev)
		}
		if err != nil {
			return followResult{done: true, err: err}
		}
		ended = w.settle(ended)
		switch ev.Name {
		case admin.EventTransition:
			w.ui.transition(w.m)
		case admin.EventMetrics, admin.EventStatus:
			w.ui.render(w.m)
		case admin.EventShutdown:
			return lost(fmt.Errorf("%w: the gateway is shutting down", errStreamEnded), connected)
		}
		if ended {
			return followResult{done: true, err: finishWatch(ctx, w.c, w.m, w.ui)}
		}
	}
}

// reconnected announces the end of an outage.
func (w *watcher) reconnected() {
	if w.outage {
		w.outage = false
		w.ui.note(time.Now().Format("15:04:05") + " reconnected")
	}
}

// refused reports whether the admin API refused the request itself (a bad
// token, a wrong path): asking again would get the same answer. 5xx
// answers, such as the 503 of a gateway shutting down, are worth a retry.
func refused(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status/100 == 4 &&
		ae.Status != http.StatusRequestTimeout && ae.Status != http.StatusTooManyRequests
}

// idleReader pushes its idle timer back with every byte read.
type idleReader struct {
	r    io.Reader
	t    *time.Timer
	idle time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.t.Reset(ir.idle)
	}
	return n, err
}
