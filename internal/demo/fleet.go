package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// dialConcurrency bounds the clients connecting at once, so that the
// gateway and blue see a steady ramp rather than a herd.
const dialConcurrency = 32

// fleet is every simulated client, and what they saw together.
type fleet struct {
	clients []*simClient
	// backendOf tells which backend a user is routed to now; requests are
	// attributed by it.
	backendOf func(user string) string
	lat       latencies

	delivered   atomic.Uint64
	stray       atomic.Uint64 // messages on channels not subscribed
	measureFrom atomic.Int64  // unix nanos; 0 while pauses are not measured

	// cadence is the largest number of publishes, round-robin over the
	// channels, between two messages for one client: the pause the
	// publishing schedule alone makes.
	cadence int

	readers  sync.WaitGroup // legacy message readers
	requests sync.WaitGroup // request loops
}

// channelNames returns the k channels messages are published on.
func channelNames(k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = fmt.Sprintf("demo.%02d", i)
	}
	return out
}

// newFleet plans n clients, alternately legacy and Socket.IO, each
// subscribed to perClient of the channels (a fixed pseudo-random choice per
// client, so a run can be repeated).
func newFleet(n, perClient int, channels []string, backendOf func(string) string) *fleet {
	f := &fleet{clients: make([]*simClient, n), backendOf: backendOf}
	for i := range f.clients {
		rng := rand.New(rand.NewPCG(uint64(i), 0x5eed))
		pick := rng.Perm(len(channels))[:min(perClient, len(channels))]
		sort.Ints(pick)
		c := &simClient{f: f, user: fmt.Sprintf("user-%05d", i), proto: Legacy, streams: make(map[string]*stream)}
		if i%2 == 1 {
			c.proto = SocketIO
		}
		for _, p := range pick {
			c.channels = append(c.channels, channels[p])
			c.streams[channels[p]] = &stream{}
		}
		f.cadence = max(f.cadence, largestStride(pick, len(channels)))
		f.clients[i] = c
	}
	return f
}

// largestStride is the largest distance between consecutive picks (sorted
// channel indices) around a cycle of k.
func largestStride(pick []int, k int) int {
	if len(pick) == 0 {
		return 0
	}
	stride := k - pick[len(pick)-1] + pick[0]
	for i := 1; i < len(pick); i++ {
		stride = max(stride, pick[i]-pick[i-1])
	}
	return stride
}

// dial connects every client to the edge at addr, calling progress (one
// call at a time) with the count connected so far. On the first failure
// it stops dialing and returns the error; the caller closes the fleet.
func (f *fleet) dial(ctx context.Context, addr string, progress func(done int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next atomic.Int64
		done atomic.Int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range min(dialConcurrency, len(f.clients)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(f.clients) || ctx.Err() != nil {
					return
				}
				c := f.clients[i]
				if err := c.dial(ctx, addr); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("demo: client %s (%s): %w", c.user, c.proto, err))
					mu.Unlock()
					cancel()
					return
				}
				if progress != nil {
					mu.Lock() // one call at a time
					progress(int(done.Add(1)))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startRequests runs every client's request loop until ctx ends.
func (f *fleet) startRequests(ctx context.Context, period time.Duration) {
	for _, c := range f.clients {
		f.requests.Go(func() { c.requestLoop(ctx, period) })
	}
}

// measure starts measuring delivery pauses at t.
func (f *fleet) measure(t time.Time) { f.measureFrom.Store(t.UnixNano()) }

func (f *fleet) measuringSince() time.Time {
	if n := f.measureFrom.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// caughtUp reports whether every live client has every message up to
// last on each of its channels.
func (f *fleet) caughtUp(last map[string]uint64) bool {
	for _, c := range f.clients {
		if !c.alive() {
			continue
		}
		c.mu.Lock()
		for ch, st := range c.streams {
			if st.have() < last[ch] {
				c.mu.Unlock()
				return false
			}
		}
		c.mu.Unlock()
	}
	return true
}

// close ends every connection, which ends any request still waiting for
// its answer, and waits for the clients' goroutines.
func (f *fleet) close() {
	for _, c := range f.clients {
		if c.lc != nil || c.sc != nil {
			c.close()
		}
	}
	f.requests.Wait()
	f.readers.Wait()
}

// tally is what the clients saw, summed.
type tally struct {
	Clients, Legacy, SocketIO int
	SessionsKept              int
	Subscriptions, SubsKept   int
	Delivered, Lost           uint64
	Duplicates, OutOfOrder    uint64
	Stray                     uint64
	Disconnects               uint64
	MaxPause                  time.Duration
	MaxPauseUser              string
	FirstErrors               []string // a few disconnect reasons
}

// maxDisconnectReasons bounds the reasons a report lists.
const maxDisconnectReasons = 3

// tally sums the clients' checks: messages up to last per channel, pauses
// measured until end.
func (f *fleet) tally(last map[string]uint64, end time.Time) tally {
	t := tally{Clients: len(f.clients), Delivered: f.delivered.Load(), Stray: f.stray.Load()}
	from := f.measuringSince()
	for _, c := range f.clients {
		if c.proto == Legacy {
			t.Legacy++
		} else {
			t.SocketIO++
		}
		c.mu.Lock()
		alive := c.endErr == nil
		// Counted here, under the client's lock, so that a connection
		// ending while the tally runs counts the same in both figures.
		if alive {
			t.SessionsKept++
		} else if t.Disconnects++; len(t.FirstErrors) < maxDisconnectReasons {
			t.FirstErrors = append(t.FirstErrors, c.endErr.Error())
		}
		for ch, st := range c.streams {
			t.Subscriptions++
			if alive && st.acked && st.have() >= last[ch] {
				t.SubsKept++
			}
			t.Lost += st.lost(last[ch])
			t.Duplicates += st.duplicates
			t.OutOfOrder += st.outOfOrder
		}
		if p := c.pause.end(from, end); alive && p > t.MaxPause {
			t.MaxPause, t.MaxPauseUser = p, c.user
		}
		c.mu.Unlock()
	}
	return t
}

// maxLatencySamples bounds the request latencies kept per backend; past
// it, samples replace random older ones (reservoir sampling).
const maxLatencySamples = 200_000

// latencies are the clients' request→ack times and errors per backend.
type latencies struct {
	mu sync.Mutex
	by map[string]*latencySet
}

type latencySet struct {
	requests, errors uint64
	samples          []time.Duration
}

func (l *latencies) record(backend string, took time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = make(map[string]*latencySet)
	}
	s := l.by[backend]
	if s == nil {
		s = &latencySet{}
		l.by[backend] = s
	}
	s.requests++
	if err != nil {
		s.errors++
		return
	}
	if len(s.samples) < maxLatencySamples {
		s.samples = append(s.samples, took)
	} else if j := rand.N(s.requests); j < maxLatencySamples {
		s.samples[j] = took
	}
}

// BackendLatency is what clients measured on one backend.
type BackendLatency struct {
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
}

// summary returns the figures per backend.
func (l *latencies) summary() map[string]BackendLatency {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]BackendLatency, len(l.by))
	for name, s := range l.by {
		b := BackendLatency{Requests: s.requests, Errors: s.errors}
		if s.requests > 0 {
			b.ErrorRate = float64(s.errors) / float64(s.requests)
		}
		sorted := slices.Clone(s.samples)
		slices.Sort(sorted)
		b.P50Ms, b.P95Ms, b.P99Ms = quantileMs(sorted, 0.50), quantileMs(sorted, 0.95), quantileMs(sorted, 0.99)
		out[name] = b
	}
	return out
}

// quantileMs is the nearest-rank quantile q of sorted, in milliseconds.
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}
