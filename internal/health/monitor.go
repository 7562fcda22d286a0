package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

// Defaults and bounds of Config.
const (
	DefaultWindow    = 30 * time.Second
	MaxWindow        = time.Hour
	DefaultReservoir = 2000
	MaxReservoir     = 100_000
	DefaultSeriesLen = 300
	MaxSeriesLen     = 86_400
)

// ErrInvalidConfig is wrapped by Config.Validate's errors.
var ErrInvalidConfig = errors.New("health: invalid config")

// Config configures a Monitor. The zero value is usable.
type Config struct {
	// Window is the span of every windowed value (counts, error rate,
	// quantiles, samples), rounded up to whole seconds. Zero means 30s;
	// at most 1h.
	Window time.Duration
	// Reservoir is the most raw latency samples a snapshot returns per
	// kind; it is also the reservoir size of each one-second slot, so
	// memory is about 16·Reservoir + 8 KB (the histograms) bytes per
	// second of Window per backend, all allocated by New: 40 KB, or 1.4 MB
	// per backend for the default Window (see BenchmarkNew). Zero means
	// 2000; at most 100000.
	Reservoir int
	// SeriesLen is how many points Series keeps per backend (one per Tick,
	// so per second under Run). Zero means 300.
	SeriesLen int
	// Clock is the time source. Nil means SystemClock.
	Clock Clock
	// Seed makes the choice of samples in a snapshot reproducible.
	Seed uint64
}

func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	c.Window = (c.Window + time.Second - 1).Truncate(time.Second)
	if c.Reservoir == 0 {
		c.Reservoir = DefaultReservoir
	}
	if c.SeriesLen == 0 {
		c.SeriesLen = DefaultSeriesLen
	}
	if c.Clock == nil {
		c.Clock = SystemClock
	}
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Window < 0 || c.Window > MaxWindow:
		return fmt.Errorf("%w: Window %v (want 0 < Window ≤ %v)", ErrInvalidConfig, c.Window, MaxWindow)
	case c.Reservoir < 0 || c.Reservoir > MaxReservoir:
		return fmt.Errorf("%w: Reservoir %d (want 0..%d)", ErrInvalidConfig, c.Reservoir, MaxReservoir)
	case c.SeriesLen < 0 || c.SeriesLen > MaxSeriesLen:
		return fmt.Errorf("%w: SeriesLen %d (want 0..%d)", ErrInvalidConfig, c.SeriesLen, MaxSeriesLen)
	}
	return nil
}

// Monitor holds the health of the two backends and their time series.
// It is safe for concurrent use.
type Monitor struct {
	cfg    Config
	recs   [2]*Recorder // indexed by router.Color
	remote *remotes     // other gateways' seconds: see Import

	mu     sync.Mutex // guards series
	series [2]ring
}

// New returns a Monitor for blue and green.
func New(cfg Config) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := &Monitor{cfg: cfg}
	m.remote = &remotes{
		clock: cfg.Clock, window: int64(cfg.Window / time.Second), res: cfg.Reservoir,
		sources: make(map[string]*source),
	}
	for _, c := range []router.Color{router.Blue, router.Green} {
		m.recs[c] = newRecorder(c.String(), cfg)
		m.recs[c].remote, m.recs[c].color = m.remote, int(c)
		m.series[c] = ring{points: make([]Point, cfg.SeriesLen)}
	}
	m.remote.second = m.recs[0].second
	return m, nil
}

// Window returns the configured window, rounded to whole seconds.
func (m *Monitor) Window() time.Duration { return m.cfg.Window }

// Backend returns the Recorder of backend c (router.Blue or router.Green),
// or nil for any other value. Callers keep it: the Recorder lives as long as
// the Monitor.
func (m *Monitor) Backend(c router.Color) *Recorder {
	if int(c) >= len(m.recs) {
		return nil
	}
	return m.recs[c]
}

// Snapshot returns backend c's health now, the raw samples of every kind
// included (see Recorder.Snapshot); an unknown c gives the zero Snapshot.
func (m *Monitor) Snapshot(c router.Color) Snapshot {
	if r := m.Backend(c); r != nil {
		return r.Snapshot()
	}
	return Snapshot{}
}

// Summary is Snapshot without raw samples (see Recorder.Summary), for
// readers of counts and quantiles only.
func (m *Monitor) Summary(c router.Color) Snapshot {
	if r := m.Backend(c); r != nil {
		return r.Summary()
	}
	return Snapshot{}
}

// SnapshotSamples is Snapshot with the raw samples of kind k only (see
// Recorder.SnapshotSamples).
func (m *Monitor) SnapshotSamples(c router.Color, k Kind) Snapshot {
	if r := m.Backend(c); r != nil {
		return r.SnapshotSamples(k)
	}
	return Snapshot{}
}

// SnapshotSamplesSince is SnapshotSamples over the part of the window
// recorded since since, the seconds imported from other gateways merged
// in (see Recorder.SnapshotSamplesSince): the rollout gates' reader.
func (m *Monitor) SnapshotSamplesSince(c router.Color, k Kind, since time.Time) Snapshot {
	if r := m.Backend(c); r != nil {
		return r.SnapshotSamplesSince(k, since)
	}
	return Snapshot{}
}

// Point is one time-series entry: a backend's windowed health at one Tick,
// without raw samples.
type Point struct {
	At          time.Time               `json:"at"`
	Sessions    int64                   `json:"sessions"`
	Requests    int64                   `json:"requests"`
	Errors      int64                   `json:"errors"`
	ErrorRate   float64                 `json:"error_rate"`
	P50         [NumKinds]time.Duration `json:"p50"` // indexed by Kind
	P95         [NumKinds]time.Duration `json:"p95"`
	P99         [NumKinds]time.Duration `json:"p99"`
	Count       [NumKinds]int64         `json:"count"`
	MemoryBytes uint64                  `json:"memory_bytes"`
}

// ring is a fixed-size buffer of the newest points.
type ring struct {
	points []Point
	next   int // index the next point goes to
	full   bool
}

func (r *ring) add(p Point) {
	if len(r.points) == 0 {
		return
	}
	r.points[r.next] = p
	r.next = (r.next + 1) % len(r.points)
	if r.next == 0 {
		r.full = true
	}
}

func (r *ring) list() []Point {
	if !r.full {
		return append([]Point(nil), r.points[:r.next]...)
	}
	return append(append([]Point(nil), r.points[r.next:]...), r.points[:r.next]...)
}

// Tick appends one Point per backend, computed at the clock's now. Run
// calls it every second; tests call it directly with a fake clock.
func (m *Monitor) Tick() {
	now := m.cfg.Clock.Now()
	mem := ProcessMemory()
	var pts [2]Point
	for c, r := range m.recs {
		s := r.snapshot(now, kindSet{}, time.Time{}, false) // the dashboard's series stays on the window, this gateway's
		p := Point{
			At: now, Sessions: s.Sessions, Requests: s.Counts.Requests,
			Errors: s.Counts.Errors(), ErrorRate: s.ErrorRate, MemoryBytes: mem,
		}
		for k, l := range s.Latency {
			p.P50[k], p.P95[k], p.P99[k], p.Count[k] = l.P50, l.P95, l.P99, l.Count
		}
		pts[c] = p
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range pts {
		m.series[c].add(pts[c])
	}
}

// Series returns backend c's points, oldest first, at most
// Config.SeriesLen of them. The slice is the caller's.
func (m *Monitor) Series(c router.Color) []Point {
	if int(c) >= len(m.series) {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.series[c].list()
}

// Run calls Tick once a second (by the real clock) until ctx is done, then
// returns ctx.Err().
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			m.Tick()
		}
	}
}
