package health

import (
	"sync/atomic"
	"time"
)

// Recorder is the health of one backend. All methods are safe for
// concurrent use. Count, Add, Observe, SessionOpened and SessionClosed are
// the hot path: a clock read and a few atomic operations, no locks (except
// once per second to recycle a window slot) and no allocation.
type Recorder struct {
	name      string
	clock     Clock
	window    int64 // seconds
	reservoir int
	seed      uint64
	ring      []slot
	// epoch is when the recorder began: window slots are keyed by the
	// seconds since it, measured on the monotonic clock that time.Now
	// carries, so that a step of the wall clock (NTP, a VM resumed) does
	// not make every slot look newer or older than now. Keys start at
	// epoch's Unix second, so with a clock that has no monotonic reading
	// (a test's) they are plain Unix seconds.
	epoch    time.Time
	epochSec int64

	sessions atomic.Int64
	totals   [NumCounters]atomic.Int64
	cum      [NumKinds]cumHist // since start, for Prometheus

	// remote holds other gateways' seconds (Monitor.Import), shared by
	// the Monitor's recorders; color is this one's index in it. Nil for
	// a Recorder outside a Monitor.
	remote *remotes
	color  int
}

func newRecorder(name string, cfg Config) *Recorder {
	w := int64(cfg.Window / time.Second)
	epoch := cfg.Clock.Now()
	return &Recorder{
		epoch:     epoch,
		epochSec:  epoch.Unix(),
		name:      name,
		clock:     cfg.Clock,
		window:    w,
		reservoir: cfg.Reservoir,
		seed:      cfg.Seed,
		// Two spare slots: the one being recycled for the next second and
		// the one just leaving the window are never read as current.
		ring: newSlots(int(w)+2, cfg.Reservoir),
	}
}

// second is the window key of now: see epoch. It counts from the start
// of epoch's Unix second, so that keys turn over when Unix seconds do.
func (r *Recorder) second(now time.Time) int64 {
	d := now.Sub(r.epoch) + time.Duration(r.epoch.Nanosecond())
	sec := int64(d / time.Second)
	if d < 0 && d%time.Second != 0 {
		sec-- // floor, as Unix does, for a clock read before epoch
	}
	return r.epochSec + sec
}

// Name returns the backend's name ("blue" or "green").
func (r *Recorder) Name() string { return r.name }

// Count adds one to counter c (see the Counter constants). An unknown
// counter is ignored.
func (r *Recorder) Count(c Counter) { r.Add(c, 1) }

// Add adds n to counter c. An unknown counter or n ≤ 0 is ignored.
func (r *Recorder) Add(c Counter, n int64) {
	if int(c) >= NumCounters || n <= 0 {
		return
	}
	r.totals[c].Add(n)
	if s := at(r.ring, r.second(r.clock.Now())); s != nil {
		s.counters[c].Add(n)
	}
}

// Observe records one latency of kind k, in the window and in the
// cumulative histogram (see LatencyHistogram). Durations are kept in whole
// microseconds, clamped to [0, ~71 minutes]. An unknown kind is ignored.
func (r *Recorder) Observe(k Kind, d time.Duration) {
	if int(k) >= NumKinds {
		return
	}
	us := micros(d)
	b := bucketOf(us)
	r.cum[k].observe(b, us)
	if s := at(r.ring, r.second(r.clock.Now())); s != nil {
		s.kinds[k].observe(b, us)
	}
}

// SessionOpened adds one to the sessions gauge: a client session now
// attached to this backend.
func (r *Recorder) SessionOpened() { r.sessions.Add(1) }

// SessionClosed subtracts one from the sessions gauge (detached, moved
// away, or closed).
func (r *Recorder) SessionClosed() { r.sessions.Add(-1) }

// SetSessions sets the sessions gauge, for callers that count sessions
// themselves.
func (r *Recorder) SetSessions(n int64) { r.sessions.Store(n) }

// Sessions returns the sessions gauge.
func (r *Recorder) Sessions() int64 { return r.sessions.Load() }
