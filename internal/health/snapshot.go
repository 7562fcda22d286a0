package health

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"time"
)

// Counts are counter values, over a window or since start.
type Counts struct {
	Requests          int64 `json:"requests"`
	DialFailures      int64 `json:"dial_failures"`
	HandshakeFailures int64 `json:"handshake_failures"`
	ProtocolErrors    int64 `json:"protocol_errors"`
	ErrorReplies      int64 `json:"error_replies"`
	AbnormalCloses    int64 `json:"abnormal_closes"`
	AckTimeouts       int64 `json:"ack_timeouts"`
	ProbeFailures     int64 `json:"probe_failures"`
}

func countsOf(v *[NumCounters]int64) Counts {
	return Counts{
		Requests: v[Requests], DialFailures: v[DialFailures], HandshakeFailures: v[HandshakeFailures],
		ProtocolErrors: v[ProtocolErrors], ErrorReplies: v[ErrorReplies], AbnormalCloses: v[AbnormalCloses],
		AckTimeouts: v[AckTimeouts], ProbeFailures: v[ProbeFailures],
	}
}

// Get returns the value of counter k, 0 for an unknown counter.
func (c Counts) Get(k Counter) int64 {
	switch k {
	case Requests:
		return c.Requests
	case DialFailures:
		return c.DialFailures
	case HandshakeFailures:
		return c.HandshakeFailures
	case ProtocolErrors:
		return c.ProtocolErrors
	case ErrorReplies:
		return c.ErrorReplies
	case AbnormalCloses:
		return c.AbnormalCloses
	case AckTimeouts:
		return c.AckTimeouts
	case ProbeFailures:
		return c.ProbeFailures
	}
	return 0
}

// Errors is the sum of every error counter.
func (c Counts) Errors() int64 {
	return c.DialFailures + c.HandshakeFailures + c.ProtocolErrors + c.ErrorReplies +
		c.AbnormalCloses + c.AckTimeouts + c.ProbeFailures
}

// Trials returns the error rate as a proportion, ready for
// stats.TwoProportions: failures = Errors(), total = max(Requests,
// failures), so failures ≤ total always holds.
func (c Counts) Trials() (failures, total int64) {
	f := c.Errors()
	return f, max(c.Requests, f)
}

// ErrorRate is failures/total from Trials, 0 when there were no trials.
func (c Counts) ErrorRate() float64 {
	f, n := c.Trials()
	if n == 0 {
		return 0
	}
	return float64(f) / float64(n)
}

// LatencyStats summarises one latency kind over the window.
type LatencyStats struct {
	// Count is the number of observations in the window.
	Count int64 `json:"count"`
	// Mean and Max are exact (to the microsecond). P50, P95 and P99 are
	// nearest-rank quantiles read from the log-linear histogram: within
	// 1/32 (3.1 %) of the exact order statistic, never above Max and never
	// below the smallest observation (so a limit that every observation
	// exceeds, every quantile exceeds too). All are 0 when Count is 0.
	Mean time.Duration `json:"mean"`
	P50  time.Duration `json:"p50"`
	P95  time.Duration `json:"p95"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
	// SamplesMs is a uniform random sample of the window's observations in
	// milliseconds (at most Config.Reservoir values; all of them when there
	// were fewer), in no particular order, for stats.MannWhitney and
	// stats.BootstrapQuantileDiff. Nil in time-series points. It is the
	// caller's copy.
	SamplesMs []float64 `json:"-"`
}

// Latencies holds one LatencyStats per Kind, indexed by Kind. It encodes to
// JSON as an object keyed by the kinds' names.
type Latencies [NumKinds]LatencyStats

// MarshalJSON writes {"handshake": {...}, "request_ack": {...}, ...}.
func (l Latencies) MarshalJSON() ([]byte, error) {
	m := make(map[string]LatencyStats, NumKinds)
	for k := range l {
		m[Kind(k).String()] = l[k]
	}
	return json.Marshal(m)
}

// Snapshot is one backend's health at one moment.
type Snapshot struct {
	Backend string    `json:"backend"`
	At      time.Time `json:"at"`
	// Window is the span the windowed values cover: the last Window of
	// whole seconds, the current partial second included (fewer seconds
	// for a snapshot since a time: see SnapshotSamplesSince).
	Window time.Duration `json:"window"`
	// Sessions is the sessions gauge at At.
	Sessions int64 `json:"sessions"`
	// Counts are the counters within the window; Totals since the Monitor
	// was created (monotonic, for Prometheus counters).
	Counts Counts `json:"counts"`
	Totals Counts `json:"totals"`
	// ErrorRate is Counts.ErrorRate().
	ErrorRate float64 `json:"error_rate"`
	// Latency is indexed by Kind: Latency[RequestAck].P95.
	Latency Latencies `json:"latency"`
	// MemoryBytes is the process's resident set size (the whole process, so
	// the same for every backend); see ProcessMemory.
	MemoryBytes uint64 `json:"memory_bytes"`
}

// Snapshot returns the backend's health over the window ending now, the
// raw samples of every kind included. It reads every slot of the window
// (cost grows with Window and Reservoir, not with traffic) and allocates;
// call it from the controller and API, not per message. Drawing the
// samples is most of the cost (each kind's reservoirs are copied, 8 KB per
// second of Window with the default Reservoir): callers that need no
// samples call Summary, and those that need one kind's SnapshotSamples.
func (r *Recorder) Snapshot() Snapshot {
	var all kindSet
	for k := range all {
		all[k] = true
	}
	return r.snapshotNow(all, time.Time{}, false)
}

// Summary is Snapshot without raw samples: every SamplesMs is nil.
func (r *Recorder) Summary() Snapshot { return r.snapshotNow(kindSet{}, time.Time{}, false) }

// SnapshotSamples is Snapshot with the raw samples of kind k only: the
// other kinds' SamplesMs are nil (all of them for an unknown k). Every
// other value, k's samples included, is what Snapshot would return.
func (r *Recorder) SnapshotSamples(k Kind) Snapshot {
	var one kindSet
	if int(k) < NumKinds {
		one[k] = true
	}
	return r.snapshotNow(one, time.Time{}, false)
}

// SnapshotSamplesSince is SnapshotSamples over the part of the window
// recorded since since: the seconds from the one that holds since (its
// records from before since included, the window's one-second grain) to
// now, all of the window when since is older or zero. The rollout gates
// read it from their step's start, so that each judges its step's
// traffic and not the step before's.
//
// Unlike the other snapshots it merges in the seconds other gateways
// exported (Monitor.Import) for the same span: counts and histograms
// summed, Min and Max combined, samples drawn from every gateway's
// reservoirs in proportion to its traffic. Sessions and Totals stay this
// gateway's. Snapshot, Summary and SnapshotSamples (the admin API, the
// dashboard, Prometheus) are this gateway's alone.
func (r *Recorder) SnapshotSamplesSince(k Kind, since time.Time) Snapshot {
	var one kindSet
	if int(k) < NumKinds {
		one[k] = true
	}
	return r.snapshotNow(one, since, true)
}

// kindSet says, per Kind, whether a snapshot draws its samples.
type kindSet [NumKinds]bool

func (r *Recorder) snapshotNow(samples kindSet, since time.Time, merge bool) Snapshot {
	s := r.snapshot(r.clock.Now(), samples, since, merge)
	s.MemoryBytes = ProcessMemory()
	return s
}

// snapshot sums the window's seconds up to now's, from since's on when
// since is not zero (at least now's own), with the imported seconds of the
// same span when merge is set.
func (r *Recorder) snapshot(now time.Time, samples kindSet, since time.Time, merge bool) Snapshot {
	cur := r.second(now)
	oldest := cur - r.window + 1
	if !since.IsZero() {
		oldest = min(max(oldest, r.second(since)), cur)
	}
	var counts, totals [NumCounters]int64
	for i := range r.totals {
		totals[i] = r.totals[i].Load()
	}
	var in []*slot
	for i := range r.ring {
		s := &r.ring[i]
		if sec := s.sec.Load(); sec >= oldest && sec <= cur {
			in = append(in, s)
			for c := range counts {
				counts[c] += s.counters[c].Load()
			}
		}
	}
	var rin []*remoteSecond
	if merge && r.remote != nil {
		r.remote.mu.Lock()
		defer r.remote.mu.Unlock()
		r.remote.within(now, r.color, oldest, cur, func(s *remoteSecond) {
			rin = append(rin, s)
			for c := range counts {
				counts[c] += s.counters[c]
			}
		})
	}
	snap := Snapshot{
		Backend:  r.name,
		At:       now,
		Window:   time.Duration(cur-oldest+1) * time.Second,
		Sessions: r.sessions.Load(),
		Counts:   countsOf(&counts),
		Totals:   countsOf(&totals),
	}
	snap.ErrorRate = snap.Counts.ErrorRate()
	for k := range NumKinds {
		snap.Latency[k] = r.latency(in, rin, Kind(k), samples[k], cur)
	}
	return snap
}

// latency merges one kind over the window's slots and imported seconds.
func (r *Recorder) latency(in []*slot, rin []*remoteSecond, k Kind, samples bool, cur int64) LatencyStats {
	var hist [numBuckets]uint64
	var n, sum uint64
	var maxV, low uint32
	for _, s := range in {
		ks := &s.kinds[k]
		n += ks.count.Load()
		sum += ks.sum.Load()
		maxV = max(maxV, ks.max.Load())
		low = max(low, ks.low.Load())
		for i := range ks.hist {
			hist[i] += uint64(ks.hist[i].Load())
		}
	}
	for _, s := range rin {
		rk := &s.kinds[k]
		n += rk.count
		sum += rk.sum
		maxV = max(maxV, rk.max)
		low = max(low, rk.low)
		for _, h := range rk.hist {
			hist[h[0]] += uint64(h[1])
		}
	}
	if n == 0 {
		return LatencyStats{}
	}
	us := func(v uint64) time.Duration { return time.Duration(v) * time.Microsecond }
	st := LatencyStats{
		Count: int64(n),
		Mean:  us(sum / n),
		Max:   us(uint64(maxV)),
	}
	// The histogram's own total may trail n by records in flight; use it
	// for the ranks so they are consistent with the counts walked.
	var hn uint64
	for _, c := range hist {
		hn += c
	}
	minV := min(^low, maxV) // a record in flight may have set one and not the other
	st.P50 = histQuantile(&hist, hn, 0.50, minV, maxV)
	st.P95 = histQuantile(&hist, hn, 0.95, minV, maxV)
	st.P99 = histQuantile(&hist, hn, 0.99, minV, maxV)
	if samples {
		st.SamplesMs = r.samples(in, rin, k, n, cur)
	}
	return st
}

// samples draws a uniform sample of the window from the per-second
// reservoirs, the local slots' and the imported seconds'. Each second i saw n_i values and kept a uniform k_i of them;
// taking m_i ∝ n_i values (largest-remainder rounding, total
// min(Reservoir, n)) at random from second i gives every value of the window
// the same chance, however unevenly the traffic was spread over the seconds.
// The draw is seeded by Config.Seed and the current second: deterministic
// for a given state.
func (r *Recorder) samples(in []*slot, rin []*remoteSecond, k Kind, n uint64, cur int64) []float64 {
	want := min(uint64(r.reservoir), n)
	if want == 0 {
		return nil
	}
	type part struct {
		ks   *kindSlot   // a local second's, or
		rk   *remoteKind // an imported one's
		seen uint64
		take uint64
		rem  uint64 // remainder of want·seen/n, for rounding
	}
	parts := make([]part, 0, len(in))
	var given uint64
	for _, s := range in {
		ks := &s.kinds[k]
		seen := ks.count.Load()
		if seen == 0 {
			continue
		}
		p := part{ks: ks, seen: seen, take: want * seen / n, rem: want * seen % n}
		given += p.take
		parts = append(parts, p)
	}
	for _, s := range rin {
		rk := &s.kinds[k]
		if rk.count == 0 {
			continue
		}
		p := part{rk: rk, seen: rk.count, take: want * rk.count / n, rem: want * rk.count % n}
		given += p.take
		parts = append(parts, p)
	}
	// Hand out the rounding shortfall to the largest remainders.
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch ra, rb := parts[a].rem, parts[b].rem; {
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return 0
	})
	for _, i := range order {
		if given >= want {
			break
		}
		parts[i].take++
		given++
	}
	rng := rand.New(rand.NewPCG(r.seed, uint64(cur)))
	out := make([]float64, 0, want)
	// One second's reservoir at a time, in a buffer they share: the window's
	// would be Reservoir values per second of it.
	var vals []uint32
	for _, p := range parts {
		if p.take == 0 {
			continue
		}
		vals = vals[:0]
		if p.rk != nil {
			vals = append(vals, p.rk.res...)
		} else {
			for i := range min(p.seen, uint64(len(p.ks.res))) {
				if v := p.ks.res[i].Load(); v != 0 {
					vals = append(vals, v-1)
				}
			}
		}
		take := min(p.take, uint64(len(vals)))
		// Partial Fisher-Yates: the first take entries become a uniform
		// subset of vals.
		for i := range take {
			j := i + rng.Uint64N(uint64(len(vals))-i)
			vals[i], vals[j] = vals[j], vals[i]
			out = append(out, float64(vals[i])/1000)
		}
	}
	return out
}
