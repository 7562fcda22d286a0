package gwbench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
)

// Targets beside the configured ones: the gateway at weight 100 with
// legacy clients (fan-out only) and with Socket.IO clients, and green
// direct with Socket.IO clients.
const (
	greenName     = "gateway-green"
	gatewaySIO    = "gateway-sio"
	directSIOName = "direct-sio"
)

// green is the gateway as the fan-out through green measures it.
func (r *runner) green() Target {
	t := r.cfg.Gateway
	t.Name, t.Green = greenName, true
	return t
}

// sioTargets are the Socket.IO clients' targets, the gateway first; none
// without Config.DirectSocketIO.
func (r *runner) sioTargets() []Target {
	if r.cfg.DirectSocketIO.Addr == "" {
		return nil
	}
	g := r.cfg.Gateway
	g.Name, g.SocketIO, g.Green = gatewaySIO, true, true
	return []Target{g, r.cfg.DirectSocketIO}
}

// isGateway says whether t is the gateway process, whichever backend and
// clients it is measured with.
func (r *runner) isGateway(t Target) bool { return t.PID > 0 && t.PID == r.cfg.Gateway.PID }

// onGreen puts the gateway at weight 100 while t, a target with Green,
// is measured with sessions opened after it; the returned function puts
// it back at 0.
func (r *runner) onGreen(ctx context.Context, t Target) (back func(), err error) {
	if !t.Green {
		return func() {}, nil
	}
	// New sessions attach to green; none is open to move.
	if _, err := r.admin.setWeight(ctx, 100); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	return func() {
		if _, err := r.admin.setWeight(context.WithoutCancel(ctx), 0); err != nil {
			r.logf("%s: weight back to 0: %v", t.Name, err)
		}
	}, nil
}

// fanoutRounds measures every target's fan-out FanoutRounds times, the
// targets taking turns so that the machine's slow spells fall on each
// alike, and keeps each target's median round: by CPU per relayed frame
// for a proxy, by deliveries/s for direct. Every round's figures stay in
// the kept one's Rounds, and its Lost and Dropped are those of all rounds.
// On an error the rounds measured so far are returned with it.
func (r *runner) fanoutRounds(ctx context.Context) (map[string]Fanout, error) {
	rounds := map[string][]Fanout{}
	var err error
	targets := r.targets()
	if !r.cfg.NoFanoutGreen {
		targets = append(targets, r.green())
	}
	targets = append(targets, r.sioTargets()...)
rounds:
	for i := range r.cfg.FanoutRounds {
		for _, t := range targets {
			r.logf("fanout round %d/%d", i+1, r.cfg.FanoutRounds)
			var f Fanout
			label := fmt.Sprintf("fanout-%d", i+1)
			switch t.Name {
			case greenName:
				label = fmt.Sprintf("fanout-green-%d", i+1)
			case gatewaySIO:
				label = fmt.Sprintf("fanout-sio-%d", i+1)
			}
			if f, err = r.fanout(ctx, t, label); err != nil {
				break rounds
			}
			rounds[t.Name] = append(rounds[t.Name], f)
		}
	}
	out := map[string]Fanout{}
	for name, fs := range rounds {
		out[name] = medianRound(fs)
	}
	return out, err
}

// medianRound returns the median of fs by CPU per frame (by deliveries/s
// when there is none: direct), with every round's figures attached and
// the losses of all rounds. A proxy round that relayed nothing ranks
// last, not first.
func medianRound(fs []Fanout) Fanout {
	all := make([]FanoutRound, len(fs))
	var lost, dropped int64
	for i, f := range fs {
		all[i] = FanoutRound{DeliveriesPerSec: f.DeliveriesPerSec, ProxyCPUPerFrameUs: f.ProxyCPUPerFrameUs, Lost: f.Lost, Dropped: f.Dropped}
		lost += f.Lost
		dropped += f.Dropped
	}
	proxy := slices.ContainsFunc(fs, func(f Fanout) bool { return f.ProxyCPUPerFrameUs > 0 })
	cpu := func(f Fanout) float64 {
		if proxy && f.ProxyCPUPerFrameUs <= 0 {
			return math.Inf(1)
		}
		return f.ProxyCPUPerFrameUs
	}
	sorted := slices.Clone(fs)
	slices.SortFunc(sorted, func(a, b Fanout) int {
		if c := cmp.Compare(cpu(a), cpu(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.DeliveriesPerSec, b.DeliveriesPerSec)
	})
	m := sorted[len(sorted)/2]
	m.Rounds, m.Lost, m.Dropped = all, lost, dropped
	return m
}

// fanout subscribes FanoutSubs sessions of target t to one channel and
// publishes as fast as they keep up: at most MaxLag messages ahead of the
// average subscriber, so that the window measures sustained delivery
// rather than queueing.
func (r *runner) fanout(ctx context.Context, t Target, label string) (Fanout, error) {
	s := &sink{}
	f := Fanout{Subscribers: r.cfg.FanoutSubs}
	back, err := r.onGreen(ctx, t)
	if err != nil {
		return f, fmt.Errorf("fanout: %w", err)
	}
	defer back()
	clients, err := connectAll(ctx, dialerFor(t, s), 200000, r.cfg.FanoutSubs, r.cfg.DialConcurrency, false)
	defer func() { closeAll(s, clients) }()
	if err != nil {
		return f, fmt.Errorf("fanout: %s: %w", t.Name, err)
	}
	channel := "fan." + r.id + "." + t.Name
	if err := subscribeAll(ctx, clients, func(int) string { return channel }, r.cfg.DialConcurrency); err != nil {
		return f, fmt.Errorf("fanout: %s: subscribe: %w", t.Name, err)
	}
	subs := int64(len(clients))
	pub := newPublisher(r.cfg.PublishURL, r.cfg.Payload, r.cfg.InFlight+2)
	defer pub.close()

	var (
		published, failed atomic.Int64
		wg                sync.WaitGroup
	)
	// stop ends the publishing loops, not the publishes in flight: each
	// is answered (or times out) and counted in published, so that want
	// below covers every message the backend took.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	for range r.cfg.InFlight {
		wg.Go(func() {
			for pctx.Err() == nil {
				if published.Load()-s.delivered.Load()/subs >= int64(r.cfg.MaxLag) {
					_ = sleep.For(pctx, 200*time.Microsecond)
					continue
				}
				if _, err := pub.publish(ctx, channel); err != nil {
					if pctx.Err() == nil {
						failed.Add(1)
						_ = sleep.For(pctx, 10*time.Millisecond)
					}
					continue
				}
				published.Add(1)
			}
		})
	}
	r.logf("fanout %s: %d subscribers, warm-up %s", t.Name, subs, r.cfg.FanoutWarmup)
	if err := sleep.For(ctx, r.cfg.FanoutWarmup); err != nil {
		return f, err
	}
	pids, names := r.watch(t)
	mallocs := r.mallocCounter(ctx, t)
	m := startCPU(pids)
	p0, d0, t0 := published.Load(), s.delivered.Load(), time.Now()
	stopProfile := r.saveProfiles(ctx, t, label, r.cfg.FanoutWindow, false)
	err = sleep.For(ctx, r.cfg.FanoutWindow)
	p1, d1, t1 := published.Load(), s.delivered.Load(), time.Now()
	f.Cores = m.stop(names)
	allocs := mallocs()
	stopProfile()
	stop()
	wg.Wait()
	if err != nil {
		return f, err
	}
	f.Seconds = t1.Sub(t0).Seconds()
	f.Published, f.Delivered = p1-p0, d1-d0
	f.DeliveriesPerSec = float64(f.Delivered) / f.Seconds
	if cpu, ok := f.Cores.CPU[t.Name]; ok && t.PID > 0 && f.Delivered > 0 {
		f.ProxyCPUPerFrameUs = float64(cpu.Microseconds()) / float64(f.Delivered)
	}
	f.AllocsPerFrame = -1
	if allocs >= 0 && f.Delivered > 0 {
		f.AllocsPerFrame = float64(allocs) / float64(f.Delivered)
	}
	want := published.Load() * subs
	deadline := time.Now().Add(r.cfg.Drain)
	for s.delivered.Load() < want && time.Now().Before(deadline) {
		if err := sleep.For(ctx, 50*time.Millisecond); err != nil {
			return f, err
		}
	}
	f.Lost = max(0, want-s.delivered.Load())
	f.Dropped = s.dropped.Load()
	r.logf("fanout %s: %.0f deliveries/s, %s cores %.2f, other %.2f, lost %d, publish errors %d",
		t.Name, f.DeliveriesPerSec, t.Name, f.Cores.Procs[t.Name], f.Cores.Other, f.Lost, failed.Load())
	return f, nil
}

// mallocCounter reads the gateway's count of heap allocations now and
// returns the function that reads how many it has made since; that one
// returns -1 when the target is not the gateway, Config.VarsURL is not
// set or a reading failed (logged).
func (r *runner) mallocCounter(ctx context.Context, t Target) (since func() int64) {
	if !r.isGateway(t) || r.cfg.VarsURL == "" {
		return func() int64 { return -1 }
	}
	read := func() (uint64, bool) {
		n, err := mallocs(ctx, r.cfg.VarsURL)
		if err != nil {
			r.logf("allocations: %v", err)
		}
		return n, err == nil
	}
	before, ok := read()
	return func() int64 {
		after, ok2 := read()
		if !ok || !ok2 {
			return -1
		}
		return int64(after - before)
	}
}

// mallocs reads memstats.Mallocs, the count of heap allocations, from a Go
// process's expvar page.
func mallocs(ctx context.Context, url string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Memstats *struct{ Mallocs uint64 } `json:"memstats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("%s: %w", url, err)
	}
	if v.Memstats == nil {
		return 0, fmt.Errorf("%s: no memstats", url)
	}
	return v.Memstats.Mallocs, nil
}
