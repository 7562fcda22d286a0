package health

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// slot is one second of the sliding window. Writers add to it with atomics
// once they have seen sec equal to their own second; the first writer of a
// new second takes mu and clears the slot (once per second per slot, off the
// common path). A writer that read the old second just before a reset can
// still land one record in the new second: a bounded, harmless smear.
type slot struct {
	mu       sync.Mutex   // held only while resetting
	sec      atomic.Int64 // Unix second held; noSecond before first use
	counters [NumCounters]atomic.Int64
	kinds    [NumKinds]kindSlot
}

// kindSlot is one second of one latency kind.
type kindSlot struct {
	count atomic.Uint64 // observations this second (also the reservoir's "seen")
	sum   atomic.Uint64 // µs
	max   atomic.Uint32 // µs
	low   atomic.Uint32 // the smallest value in µs, complemented: 0 is none
	hist  [numBuckets]atomic.Uint32
	// res is a uniform reservoir (Vitter's algorithm R) of this second's
	// observations, stored as µs+1 so that 0 marks a slot not yet written.
	res []atomic.Uint32
}

const noSecond = math.MinInt64

func newSlots(n, reservoir int) []slot {
	s := make([]slot, n)
	for i := range s {
		s[i].sec.Store(noSecond)
		for k := range s[i].kinds {
			s[i].kinds[k].res = make([]atomic.Uint32, reservoir)
		}
	}
	return s
}

// at returns the slot for Unix second sec, cleared if it held an older
// second, or nil if it already holds a newer one (the caller is more than a
// ring behind; its record is dropped).
func at(ring []slot, sec int64) *slot {
	s := &ring[uint64(sec)%uint64(len(ring))]
	if s.sec.Load() == sec {
		return s
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch cur := s.sec.Load(); {
	case cur == sec:
	case cur > sec:
		return nil
	default:
		s.clear()
		s.sec.Store(sec)
	}
	return s
}

func (s *slot) clear() {
	for i := range s.counters {
		s.counters[i].Store(0)
	}
	for k := range s.kinds {
		ks := &s.kinds[k]
		ks.count.Store(0)
		ks.sum.Store(0)
		ks.max.Store(0)
		ks.low.Store(0)
		for i := range ks.hist {
			ks.hist[i].Store(0)
		}
		for i := range ks.res {
			ks.res[i].Store(0)
		}
	}
}

// observe records one value in µs, whose histogram bucket is b.
func (ks *kindSlot) observe(b int, us uint32) {
	ks.hist[b].Add(1)
	ks.sum.Add(uint64(us))
	for m := ks.max.Load(); us > m && !ks.max.CompareAndSwap(m, us); m = ks.max.Load() {
	}
	for l := ks.low.Load(); ^us > l && !ks.low.CompareAndSwap(l, ^us); l = ks.low.Load() {
	}
	n := ks.count.Add(1)
	c := uint64(len(ks.res))
	stored := min(us, maxMicros-1) + 1
	switch {
	case n <= c:
		ks.res[n-1].Store(stored)
	case c > 0:
		// rand/v2's top-level source is per-thread ChaCha8: no lock, no
		// allocation, no shared cache line.
		if j := rand.Uint64N(n); j < c {
			ks.res[j].Store(stored)
		}
	}
}
