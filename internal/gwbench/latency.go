package gwbench

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"
)

// rttTarget is one target's clients in the round-trip phase.
type rttTarget struct {
	t       Target
	sink    *sink
	clients []*client
	ack     []int64
	deliver []int64
	errors  int64
	cores   []Cores

	requests int           // sent in the rounds, answered or not
	proxyCPU time.Duration // the proxy's CPU time over the rounds
	allocs   int64         // the gateway's heap allocations over them; -1 when unknown
}

// latency measures the round trips of legacy clients on every configured
// target, then those of Socket.IO clients on the gateway at weight 100 and
// on green direct, if configured.
func (r *runner) latency(ctx context.Context) (map[string]RTT, error) {
	out, err := r.latencyOn(ctx, r.targets())
	if err != nil {
		return nil, err
	}
	sio := r.sioTargets()
	if len(sio) == 0 {
		return out, nil
	}
	back, err := r.onGreen(ctx, sio[0])
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	defer back()
	more, err := r.latencyOn(ctx, sio)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, more)
	return out, nil
}

// latencyOn holds LatencySessions sessions on every target of ts at once
// and measures sequential publish round trips in interleaved rounds, so
// that noise on the shared machine falls on every target alike.
func (r *runner) latencyOn(ctx context.Context, ts []Target) (map[string]RTT, error) {
	var targets []*rttTarget
	defer func() {
		for _, t := range targets {
			closeAll(t.sink, t.clients)
		}
	}()
	for _, t := range ts {
		rt := &rttTarget{t: t, sink: &sink{}}
		targets = append(targets, rt)
		var err error
		first := 100000 * len(targets) // user keys apart from the other phases'
		if t.SocketIO {
			first += 300000
		}
		rt.clients, err = connectAll(ctx, dialerFor(t, rt.sink), first, r.cfg.LatencySessions, r.cfg.DialConcurrency, true)
		if err != nil {
			return nil, fmt.Errorf("latency: %s: %w", t.Name, err)
		}
		prefix := "lat." + r.id + "." + t.Name + "."
		if err := subscribeAll(ctx, rt.clients, func(i int) string { return prefix + strconv.Itoa(i) }, r.cfg.DialConcurrency); err != nil {
			return nil, fmt.Errorf("latency: %s: subscribe: %w", t.Name, err)
		}
		r.logf("latency: %d sessions on %s", len(rt.clients), t.Name)
	}
	for round := range r.cfg.LatencyRounds {
		for _, rt := range targets {
			if err := r.rttRound(ctx, rt); err != nil {
				return nil, err
			}
			n := len(rt.ack)
			r.logf("latency round %d %s: %d samples so far, ack p50 %.0fµs", round+1, rt.t.Name, n, summarize(append([]int64(nil), rt.ack...)).P50)
		}
	}
	out := map[string]RTT{}
	for _, rt := range targets {
		rtt := RTT{
			Sessions:         len(rt.clients),
			Errors:           rt.errors,
			Ack:              summarize(rt.ack),
			Deliver:          summarize(rt.deliver),
			Cores:            meanCores(rt.cores),
			AllocsPerRequest: -1,
		}
		if rt.requests > 0 {
			rtt.ProxyCPUPerRequestUs = float64(rt.proxyCPU.Microseconds()) / float64(rt.requests)
			if rt.allocs >= 0 {
				rtt.AllocsPerRequest = float64(rt.allocs) / float64(rt.requests)
			}
		}
		out[rt.t.Name] = rtt
	}
	return out, nil
}

// rttRound sends publish requests one at a time, each from the next
// session, for LatencyFor or LatencyMax samples.
func (r *runner) rttRound(ctx context.Context, rt *rttTarget) error {
	pids, names := r.watch(rt.t)
	mallocs := r.mallocCounter(ctx, rt.t)
	m := startCPU(pids)
	end := time.Now().Add(r.cfg.LatencyFor)
	prefix := "lat." + r.id + "." + rt.t.Name + "."
	for i := 0; i < r.cfg.LatencyMax && time.Now().Before(end); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := i % len(rt.clients)
		c := rt.clients[k]
		for len(c.msgs) > 0 { // a late message from an earlier timed-out try
			<-c.msgs
		}
		channel := prefix + strconv.Itoa(k)
		rt.requests++
		t0 := time.Now()
		got, err := c.request(ctx, func(id int64) []byte { return c.publishFrame(id, channel, r.cfg.Payload) })
		if err != nil {
			rt.errors++
			if rt.errors > 100 {
				return fmt.Errorf("latency: %s: too many failed requests: %w", rt.t.Name, err)
			}
			continue
		}
		rt.ack = append(rt.ack, got.at.Sub(t0).Microseconds())
		select {
		case at := <-c.msgs:
			rt.deliver = append(rt.deliver, at.Sub(t0).Microseconds())
		case <-time.After(ioTimeout):
			rt.errors++
		}
	}
	cores := m.stop(names)
	rt.cores = append(rt.cores, cores)
	if cpu, ok := cores.CPU[rt.t.Name]; ok && rt.t.PID > 0 {
		rt.proxyCPU += cpu
	}
	if n := mallocs(); n < 0 || rt.allocs < 0 {
		rt.allocs = -1
	} else {
		rt.allocs += n
	}
	return nil
}

// meanCores averages CPU readings of equal-length windows.
func meanCores(cs []Cores) Cores {
	out := Cores{Procs: map[string]float64{}}
	if len(cs) == 0 {
		return out
	}
	n := float64(len(cs))
	for _, c := range cs {
		for k, v := range c.Procs {
			out.Procs[k] += v / n
		}
		out.Driver += c.Driver / n
		out.Other += c.Other / n
		out.IRQ += c.IRQ / n
	}
	return out
}
