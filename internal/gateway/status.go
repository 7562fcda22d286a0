package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/upstream"
)

// backend wraps a backend's dialer to remember whether its last dial
// worked: that is what Status reports as "up".
type backend struct {
	upstream.Dialer

	mu      sync.Mutex
	known   bool
	up      bool
	lastErr string
	at      time.Time
}

func (b *backend) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := b.Dialer.Dial(ctx, h)
	b.note(ctx, err)
	return c, err
}

// note records the outcome of a dial made with ctx.
func (b *backend) note(ctx context.Context, err error) {
	if err != nil && upstream.CallerGaveUp(ctx) {
		return
	}
	b.mu.Lock()
	b.known, b.up, b.at = true, err == nil, time.Now()
	if err != nil {
		b.lastErr = err.Error()
	}
	b.mu.Unlock()
}

// StatusDialer returns d with its dials also counting as backend c's in
// Status ("up", "last_error"). The health probes dial through it, so that
// a backend no session is attached to, or one that died under idle
// sessions, shows its state within a probe's retry.
func (g *Gateway) StatusDialer(c router.Color, d upstream.Dialer) upstream.Dialer {
	return statusDialer{Dialer: d, b: g.backends[c]}
}

type statusDialer struct {
	upstream.Dialer
	b *backend
}

func (d statusDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := d.Dialer.Dial(ctx, h)
	d.b.note(ctx, err)
	return c, err
}

func (b *backend) status() BackendStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BackendStatus{Protocol: string(b.Protocol()), Known: b.known, Up: b.up, LastError: b.lastErr, CheckedAt: b.at}
}

// stats are the gateway's own counters.
type stats struct {
	movesDone, movesFailed atomic.Uint64
	movesCanceled          atomic.Uint64
	movesRetried           atomic.Uint64
	drops                  atomic.Uint64
	stalls                 atomic.Uint64
	reattached             atomic.Uint64
	reattachFailed         atomic.Uint64
	attachFailed           atomic.Uint64
}

// Status is a snapshot of the gateway.
type Status struct {
	Weight   router.Weight
	Sessions SessionCounts
	Moves    MoveCounts
	Backends BackendStatuses
	Messages MessageCounts
}

// SessionCounts counts the sessions held, by backend.
type SessionCounts struct {
	Blue, Green int
	// Detached sessions have no live backend connection right now (a
	// re-attach is under way, or the first attach).
	Detached int
	// Standby counts the sessions holding an idle connection to the
	// backend they left (see KeepStandby).
	Standby int
}

// MoveCounts are monotonic counts of attaches.
type MoveCounts struct {
	Done, Failed uint64 // moves by weight changes
	// Canceled counts moves under way when their weight change was called
	// off (its caller gone, a pause, a shutdown): the session stayed.
	Canceled uint64
	// Retried counts the moves of the retry rounds (retry.go), which are
	// counted in Done, Failed or Canceled too: the moves no weight
	// change's answer reports.
	Retried uint64
	// Drops counts backend connections that ended unasked; Reattached and
	// ReattachFailed how their re-attaches ended (a failure abandons the
	// session).
	Drops, Reattached, ReattachFailed uint64
	// Stalls counts the drops that were backend connections closed for
	// acknowledging a subscribe and then stalling short of the position
	// the ack announced (session.ErrStalled).
	Stalls uint64
	// AttachFailed counts new sessions refused because neither backend
	// could be dialed.
	AttachFailed uint64
}

// BackendStatuses are both backends.
type BackendStatuses struct {
	Blue, Green BackendStatus
}

// BackendStatus says whether the latest dial of a backend worked.
type BackendStatus struct {
	Protocol string
	// Known is false until the backend was first dialed (see Check).
	Known     bool
	Up        bool
	LastError string // of the latest failed dial
	CheckedAt time.Time
}

// MessageCounts are the sessions' message counters (see session.Counters).
type MessageCounts struct {
	Duplicates     uint64 `json:"duplicates"`
	Gaps           uint64 `json:"gaps"`
	Recovered      uint64 `json:"recovered"`
	RecoveryFailed uint64 `json:"recovery_failed"`
	Stale          uint64 `json:"stale"`
	Unsequenced    uint64 `json:"unsequenced"`
	EventsOverlap  uint64 `json:"events_overlap"`
	EventsDropped  uint64 `json:"events_dropped"`
	Rejected       uint64 `json:"rejected"`
}

// Status returns a snapshot of the gateway.
func (g *Gateway) Status() Status {
	st := Status{Weight: g.router.Table().Weight()}
	for _, s := range g.Sessions() {
		p := s.Placement()
		switch {
		case !p.Live:
			st.Sessions.Detached++
		case p.Backend == router.Green:
			st.Sessions.Green++
		default:
			st.Sessions.Blue++
		}
		if p.HasStandby {
			st.Sessions.Standby++
		}
	}
	st.Moves = MoveCounts{
		Done:           g.stats.movesDone.Load(),
		Failed:         g.stats.movesFailed.Load(),
		Canceled:       g.stats.movesCanceled.Load(),
		Retried:        g.stats.movesRetried.Load(),
		Drops:          g.stats.drops.Load(),
		Reattached:     g.stats.reattached.Load(),
		ReattachFailed: g.stats.reattachFailed.Load(),
		Stalls:         g.stats.stalls.Load(),
		AttachFailed:   g.stats.attachFailed.Load(),
	}
	st.Backends = BackendStatuses{Blue: g.backends[router.Blue].status(), Green: g.backends[router.Green].status()}
	c := &g.counters
	st.Messages = MessageCounts{
		Duplicates:     c.Duplicates.Load(),
		Gaps:           c.Gaps.Load(),
		Recovered:      c.Recovered.Load(),
		RecoveryFailed: c.RecoveryFailed.Load(),
		Stale:          c.Stale.Load(),
		Unsequenced:    c.Unsequenced.Load(),
		EventsOverlap:  c.EventsOverlap.Load(),
		EventsDropped:  c.EventsDropped.Load(),
		Rejected:       c.Rejected.Load(),
	}
	return st
}

// Check dials both backends once (and closes the connections), so that
// Status knows whether they are up before any session needed them. It
// returns when both dials have ended.
func (g *Gateway) Check(ctx context.Context) {
	var wg sync.WaitGroup
	for _, b := range g.backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := b.Dial(ctx, discard{}); err == nil {
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
}

// discard is the handler of Check's probe connections.
type discard struct{}

func (discard) HandleEvent(upstream.Event) {}
func (discard) HandleClose(error)          {}
func (discard) Flush()                     {}
