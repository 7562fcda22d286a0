package gwbench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/loadgen/drive"
	"github.com/baton-rt/baton/internal/loadgen/procstat"
	"github.com/baton-rt/baton/internal/loadgen/samples"
	"github.com/baton-rt/baton/internal/sleep"
)

// idleMemory opens sessions sessions through t, lets them sit and reads
// the RSS growth of t's process per session. The clients stay open for the
// caller.
func (r *runner) idleMemory(ctx context.Context, t Target, sessions int, gcURL string) (Memory, []*client, *sink, error) {
	s := &sink{}
	var m Memory
	before, err := r.settledRSS(ctx, t.PID, gcURL)
	if err != nil {
		return m, nil, s, err
	}
	bBefore, _ := procstat.Read(r.cfg.BackendPID)
	r.logf("memory %s: RSS before %.1f MiB; connecting %d", t.Name, mib(before), sessions)
	start := time.Now()
	clients, err := connectAll(ctx, dialerFor(t, s), 0, sessions, r.cfg.DialConcurrency, false)
	took := time.Since(start)
	if err != nil {
		return m, clients, s, fmt.Errorf("memory: %s: %w", t.Name, err)
	}
	if err := sleep.For(ctx, r.cfg.Idle); err != nil {
		return m, clients, s, err
	}
	after, err := r.settledRSS(ctx, t.PID, gcURL)
	if err != nil {
		return m, clients, s, err
	}
	bAfter, _ := procstat.Read(r.cfg.BackendPID)
	m = Memory{
		Sessions:         len(clients),
		ConnectSeconds:   took.Seconds(),
		ConnectsPerSec:   float64(len(clients)) / took.Seconds(),
		RSSBefore:        before,
		RSSAfter:         after,
		BytesPerSession:  float64(after-before) / float64(len(clients)),
		BackendRSSBefore: bBefore.RSS,
		BackendRSSAfter:  bAfter.RSS,
	}
	r.logf("memory %s: %d sessions in %.2fs; RSS after %.1f MiB → %.0f B/session", t.Name, len(clients), took.Seconds(), mib(after), m.BytesPerSession)
	if d := s.dropped.Load(); d > 0 {
		return m, clients, s, fmt.Errorf("memory: %s: %d idle sessions were closed", t.Name, d)
	}
	return m, clients, s, nil
}

// settledRSS collects garbage (when gcURL is set), waits Settle and reads
// the RSS of pid.
func (r *runner) settledRSS(ctx context.Context, pid int, gcURL string) (int64, error) {
	if err := gc(ctx, gcURL); err != nil {
		return 0, err
	}
	if err := sleep.For(ctx, r.cfg.Settle); err != nil {
		return 0, err
	}
	p, err := procstat.Read(pid)
	return p.RSS, err
}

// steady publishes round-robin over channels at a fixed total rate, each
// publish stamped with its send time, and remembers the newest seq of
// every channel.
type steady struct {
	pub       *publisher
	channels  []string
	rate      float64
	final     []atomic.Int64
	published atomic.Int64
	failed    atomic.Int64
	late      atomic.Int64
}

// newSteady makes a publisher of perSession messages/s on each channel.
func newSteady(url string, payload int, channels []string, perSession float64) *steady {
	return &steady{
		pub:      newPublisher(url, payload, 10),
		channels: channels,
		rate:     float64(len(channels)) * perSession,
		final:    make([]atomic.Int64, len(channels)),
	}
}

// start runs the publisher until the returned stop is called; stop (safe
// to call more than once) waits for it and closes its connections. stop
// ends the schedule, not the publishes in flight: each is answered (or
// times out) and counted, so that every message the backend took has its
// seq in final, and its loss can be seen.
func (p *steady) start(ctx context.Context) (stop func()) {
	stopping, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.run(ctx, stopping) })
	return sync.OnceFunc(func() {
		cancel()
		wg.Wait()
		p.pub.close()
	})
}

// run publishes on schedule until stopping ends; the publishes themselves
// run under ctx.
func (p *steady) run(ctx, stopping context.Context) {
	jobs := make(chan int, 64) // bounded: a full queue makes the schedule late, counted
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ch := range jobs {
				seq, err := p.pub.publish(ctx, p.channels[ch])
				if err != nil {
					if ctx.Err() == nil {
						p.failed.Add(1)
					}
					continue
				}
				p.published.Add(1)
				for { // publishes to one channel may answer out of order
					cur := p.final[ch].Load()
					if seq <= cur || p.final[ch].CompareAndSwap(cur, seq) {
						break
					}
				}
			}
		})
	}
	start := time.Now()
	period := time.Duration(float64(time.Second) / p.rate)
	for k := 0; stopping.Err() == nil; k++ {
		if d := time.Until(start.Add(time.Duration(k) * period)); d > 0 {
			if sleep.For(stopping, d) != nil {
				break
			}
		}
		select {
		case jobs <- k % len(p.channels):
		default:
			p.late.Add(1)
			select {
			case jobs <- k % len(p.channels):
			case <-stopping.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
}

// channelNames names n channels prefix0 … prefix<n-1>.
func channelNames(prefix string, n int) []string {
	channels := make([]string, n)
	for i := range channels {
		channels[i] = prefix + strconv.Itoa(i)
	}
	return channels
}

// spread puts client i on channel i mod len(channels), as steady.check
// expects.
func spread(channels []string) func(i int) string {
	return func(i int) string { return channels[i%len(channels)] }
}

// streams adds up what every client saw of its channel's stream.
type streams struct {
	delivered, lost, duplicated int64
	pause, baseline             Dist // per-session delivery pause in the move and baseline windows
}

// check waits until every client has its channel's last message (clients
// spread over the channels as by spread), up to drain, then adds up every
// client's stream.
func (p *steady) check(ctx context.Context, clients []*client, drain time.Duration) (streams, error) {
	final := func(i int) int64 { return p.final[i%len(p.final)].Load() }
	caughtUp := func() bool {
		for i, c := range clients {
			if c.snapshot().last < final(i) {
				return false
			}
		}
		return true
	}
	var st streams
	for deadline := time.Now().Add(drain); time.Now().Before(deadline) && !caughtUp(); {
		if err := sleep.For(ctx, 100*time.Millisecond); err != nil {
			return st, err
		}
	}
	pause, base := make([]int64, 0, len(clients)), make([]int64, 0, len(clients))
	for i, c := range clients {
		tr := c.snapshot()
		st.delivered += tr.got
		st.duplicated += tr.dup
		st.lost += tr.gap + max(0, final(i)-tr.last)
		base = append(base, tr.jump[windowBaseline-1])
		pause = append(pause, tr.jump[windowMove-1])
	}
	st.pause, st.baseline = summarize(pause), summarize(base)
	return st, nil
}

// move is one handover phase: a weight change at a per-session message
// rate, with its connections prepared ahead or not.
type move struct {
	from, to, rate float64
	prepared       bool
}

// handover moves every session from weight from to weight to under a
// steady publishing load and checks every client's stream.
func (r *runner) handover(ctx context.Context, clients []*client, s *sink, mv move) (Handover, error) {
	from, to, rate := mv.from, mv.to, mv.rate
	h := Handover{From: from, To: to, Sessions: len(clients), Channels: r.cfg.Channels, PerSessionRate: rate, Prepared: mv.prepared}
	run := r.id + "." + strconv.FormatFloat(to, 'f', -1, 64)
	phase := fmt.Sprintf("handover-%v-%v", from, to)
	if mv.prepared {
		run += "p"
		phase += "-prepared"
	}
	channels := channelNames("h."+run+".", r.cfg.Channels)
	if err := subscribeAll(ctx, clients, spread(channels), r.cfg.DialConcurrency); err != nil {
		return h, fmt.Errorf("handover: subscribe: %w", err)
	}
	for _, c := range clients {
		c.reset()
	}
	p := newSteady(r.cfg.PublishURL, r.cfg.Payload, channels, rate)
	stop := p.start(ctx)
	defer stop()

	s.track.Store(true)
	defer s.track.Store(false)
	baseLat, moveLat := samples.NewRecorder(1<<20), samples.NewRecorder(1<<20)
	r.logf("handover %v→%v: %d sessions on %d channels, %.0f msg/s each (%.0f publishes/s)", from, to, len(clients), len(channels), rate, p.rate)
	// One second to warm up, the preparation if any, then the baseline
	// window.
	if err := sleep.For(ctx, time.Second); err != nil {
		return h, err
	}
	if mv.prepared {
		t0 := time.Now()
		res, err := r.admin.prepare(ctx, to)
		if err != nil {
			return h, fmt.Errorf("handover: prepare: %w", err)
		}
		h.PrepareSeconds, h.PreparedConns, h.PrepareFailures = time.Since(t0).Seconds(), res.Prepared, res.Failed
		r.logf("handover %v→%v: prepared %d (failed %d) in %.2fs", from, to, res.Prepared, res.Failed, h.PrepareSeconds)
	}
	s.lat.Store(baseLat)
	s.window.Store(windowBaseline)
	if err := sleep.For(ctx, r.cfg.Baseline); err != nil {
		return h, err
	}
	gw, _ := r.watch(r.cfg.Gateway)
	m := startCPU(gw)
	s.lat.Store(moveLat)
	s.window.Store(windowMove)
	// Two seconds: about the move itself (the target), not the steady
	// relaying after it.
	stopProfile := r.saveProfiles(ctx, r.cfg.Gateway, phase, 2*time.Second, true)
	t0 := time.Now()
	res, err := r.admin.setWeight(ctx, to)
	took := time.Since(t0)
	// The move's latencies and pauses end with it; the After period that
	// follows only lets the last deliveries arrive.
	s.window.Store(windowNone)
	s.lat.Store(nil)
	// The CPU window is the move's own: the After period that follows
	// only relays the steady load.
	_, names := r.watch(r.cfg.Gateway)
	h.Cores = m.stop(names)
	if err != nil {
		stopProfile()
		return h, fmt.Errorf("handover: %w", err)
	}
	sleepErr := sleep.For(ctx, r.cfg.After)
	stopProfile()
	stop()
	if sleepErr != nil {
		return h, sleepErr
	}
	h.Seconds, h.Moved, h.Failed = took.Seconds(), res.Moved, res.Failed
	h.SessionsPerSec = float64(res.Moved) / took.Seconds()
	if st, err := r.admin.status(ctx); err == nil {
		h.OnTarget = st.Sessions.Blue
		if to > from {
			h.OnTarget = st.Sessions.Green
		}
	}

	st, err := p.check(ctx, clients, r.cfg.Drain)
	if err != nil {
		return h, err
	}
	h.Delivered, h.Lost, h.Duplicated = st.delivered, st.lost, st.duplicated
	h.Pause, h.BaselinePause = st.pause, st.baseline
	h.Latency, h.BaselineLatency = summarize(moveLat.Values()), summarize(baseLat.Values())
	h.Published, h.PublishErrors, h.Late = p.published.Load(), p.failed.Load(), p.late.Load()
	h.Dropped = s.dropped.Load()
	r.logf("handover %v→%v: moved %d failed %d in %.2fs (%.0f/s); pause p50 %.1fms p99 %.1fms; lost %d dup %d dropped %d",
		from, to, h.Moved, h.Failed, h.Seconds, h.SessionsPerSec, h.Pause.P50/1000, h.Pause.P99/1000, h.Lost, h.Duplicated, h.Dropped)
	// Leave the channels so that the next handover starts clean.
	return h, r.unsubscribeAll(ctx, clients, spread(channels))
}

// unsubscribeAll makes client i leave channel(i), DialConcurrency at a time.
func (r *runner) unsubscribeAll(ctx context.Context, clients []*client, channel func(i int) string) error {
	err := drive.Each(ctx, len(clients), r.cfg.DialConcurrency, func(i int) error {
		ch := channel(i)
		_, err := clients[i].request(ctx, func(id int64) []byte {
			return clients[i].requestFrame("unsubscribe", id, ch)
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
