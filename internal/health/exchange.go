package health

import (
	"errors"
	"sync"
	"time"
)

// Several gateways serve the same backends; the one that runs the rollout
// judges green on all of their traffic. Each exports the seconds of its
// window (ExportSince) and the judge imports the others' (Import): its
// gates' reader, SnapshotSamplesSince, merges them with its own. The
// transport is the caller's (internal/app sends them through Redis).

// MaxSources bounds the sources a Monitor imports from at once.
const MaxSources = 64

// ErrTooManySources is Import's error for a new source beyond MaxSources.
var ErrTooManySources = errors.New("health: too many sources")

// Second is one backend's one second of a window, as exported to another
// gateway: compact, and JSON's.
type Second struct {
	// Backend is the router.Color: 0 blue, 1 green.
	Backend uint8 `json:"b"`
	// Sec is the Unix second (the window's key: see Recorder.second).
	Sec int64 `json:"s"`
	// Counters are indexed by Counter.
	Counters [NumCounters]int64 `json:"c"`
	// Kinds holds the latency kinds observed this second.
	Kinds []KindSecond `json:"k,omitempty"`
}

// KindSecond is one latency kind's second.
type KindSecond struct {
	Kind  uint8  `json:"k"`
	Count uint64 `json:"n"` // observations
	Sum   uint64 `json:"t"` // µs
	Min   uint32 `json:"lo"`
	Max   uint32 `json:"hi"` // µs
	// Hist are the non-empty histogram buckets: index, count.
	Hist [][2]uint32 `json:"h,omitempty"`
	// Samples are the second's reservoir, µs: a uniform sample of its
	// observations, at most Config.Reservoir.
	Samples []uint32 `json:"r,omitempty"`
}

// ExportSince returns the seconds of both backends' windows after the
// Unix second after, the current partial one included, and the current
// second. Seconds without a record are left out. A caller that sends
// every second passes cur-1 next time, so that the partial second is sent
// again whole: Import replaces a source's second, so nothing counts twice.
// It reads the window as snapshots do, without stopping writers.
func (m *Monitor) ExportSince(after int64) (recs []Second, cur int64) {
	cur = m.recs[0].second(m.cfg.Clock.Now())
	after = max(after, cur-m.recs[0].window)
	for c, r := range m.recs {
		for i := range r.ring {
			s := &r.ring[i]
			sec := s.sec.Load()
			if sec <= after || sec > cur {
				continue
			}
			if rec, ok := s.export(uint8(c), sec); ok && s.sec.Load() == sec {
				recs = append(recs, rec)
			}
		}
	}
	return recs, cur
}

// export reads the slot as the record of sec; ok is false when it holds
// nothing.
func (s *slot) export(backend uint8, sec int64) (Second, bool) {
	rec := Second{Backend: backend, Sec: sec}
	some := false
	for c := range s.counters {
		rec.Counters[c] = s.counters[c].Load()
		some = some || rec.Counters[c] != 0
	}
	for k := range s.kinds {
		ks := &s.kinds[k]
		n := ks.count.Load()
		if n == 0 {
			continue
		}
		some = true
		maxV := ks.max.Load()
		ksec := KindSecond{Kind: uint8(k), Count: n, Sum: ks.sum.Load(), Max: maxV, Min: min(^ks.low.Load(), maxV)}
		for i := range ks.hist {
			if c := ks.hist[i].Load(); c != 0 {
				ksec.Hist = append(ksec.Hist, [2]uint32{uint32(i), c})
			}
		}
		for i := range min(n, uint64(len(ks.res))) {
			if v := ks.res[i].Load(); v != 0 {
				ksec.Samples = append(ksec.Samples, v-1)
			}
		}
		rec.Kinds = append(rec.Kinds, ksec)
	}
	return rec, some
}

// remotes are the seconds imported from other gateways, per source.
type remotes struct {
	clock  Clock
	window int64 // seconds
	res    int   // Config.Reservoir
	second func(time.Time) int64

	mu      sync.Mutex
	sources map[string]*source
}

// source is one gateway's imported seconds: a ring per backend, keyed by
// the second as the local window is.
type source struct {
	seen time.Time // by the local clock, at the last Import
	secs [2][]remoteSecond
}

type remoteSecond struct {
	sec      int64 // noSecond when empty
	counters [NumCounters]int64
	kinds    [NumKinds]remoteKind
}

type remoteKind struct {
	count, sum uint64
	low, max   uint32 // low as in kindSlot: complemented, 0 is none
	hist       [][2]uint32
	res        []uint32
}

// Import keeps recs, the seconds another gateway exported, as source's:
// a second already held from source is replaced. Only seconds within the
// window, and at most one ahead of the clock (the gateways' clocks are
// expected to agree within a second), are kept; unknown backends, kinds
// and buckets are dropped, negative counts count as 0, and no more
// samples are kept per second and kind than Config.Reservoir. A source
// that has not imported for longer than the window is forgotten. A new
// source beyond MaxSources is refused with ErrTooManySources. Import with
// no records keeps source alive.
func (m *Monitor) Import(source string, recs []Second) error {
	return m.remote.put(source, recs)
}

// Sources returns how many sources are held (not yet forgotten).
func (m *Monitor) Sources() int {
	rs := m.remote
	now := rs.clock.Now()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.forget(now)
	return len(rs.sources)
}

func (rs *remotes) put(name string, recs []Second) error {
	now := rs.clock.Now()
	cur := rs.second(now)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.forget(now)
	src := rs.sources[name]
	if src == nil {
		if len(rs.sources) >= MaxSources {
			return ErrTooManySources
		}
		src = &source{}
		for b := range src.secs {
			src.secs[b] = make([]remoteSecond, rs.window+2)
			for i := range src.secs[b] {
				src.secs[b][i].sec = noSecond
			}
		}
		rs.sources[name] = src
	}
	src.seen = now
	for i := range recs {
		rec := &recs[i]
		if int(rec.Backend) >= len(src.secs) || rec.Sec <= cur-rs.window || rec.Sec > cur+1 {
			continue
		}
		ring := src.secs[rec.Backend]
		ring[uint64(rec.Sec)%uint64(len(ring))] = rs.convert(rec)
	}
	return nil
}

// forget drops the sources silent for longer than the window.
func (rs *remotes) forget(now time.Time) {
	for name, src := range rs.sources {
		if now.Sub(src.seen) > time.Duration(rs.window)*time.Second {
			delete(rs.sources, name)
		}
	}
}

// convert checks and copies rec.
func (rs *remotes) convert(rec *Second) remoteSecond {
	out := remoteSecond{sec: rec.Sec}
	for c, v := range rec.Counters {
		out.counters[c] = max(v, 0)
	}
	for _, ks := range rec.Kinds {
		if int(ks.Kind) >= NumKinds || ks.Count == 0 {
			continue
		}
		rk := remoteKind{count: ks.Count, sum: ks.Sum, max: ks.Max, low: ^min(ks.Min, ks.Max)}
		for _, h := range ks.Hist {
			if h[0] < numBuckets && h[1] != 0 {
				rk.hist = append(rk.hist, h)
			}
		}
		n := min(len(ks.Samples), rs.res, int(min(ks.Count, uint64(rs.res))))
		rk.res = make([]uint32, n)
		for i, v := range ks.Samples[:n] {
			rk.res[i] = min(v, maxMicros-1)
		}
		out.kinds[ks.Kind] = rk
	}
	return out
}

// within calls f with each imported second of backend b in [oldest, cur],
// under rs.mu, forgetting silent sources first.
func (rs *remotes) within(now time.Time, b int, oldest, cur int64, f func(*remoteSecond)) {
	rs.forget(now)
	for _, src := range rs.sources {
		for i := range src.secs[b] {
			if s := &src.secs[b][i]; s.sec >= oldest && s.sec <= cur {
				f(s)
			}
		}
	}
}
