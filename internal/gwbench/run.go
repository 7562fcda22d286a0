package gwbench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/loadgen/procstat"
	"github.com/baton-rt/baton/internal/sleep"
)

type runner struct {
	cfg   Config
	log   io.Writer
	id    string // run id, keeps channel names of runs apart
	admin *admin
	res   *Result
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "[gwbench %s] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// targets lists the configured targets: gateway, direct, then NGINX.
func (r *runner) targets() []Target {
	out := []Target{r.cfg.Gateway, r.cfg.Direct}
	if r.cfg.NGINX.Addr != "" {
		out = append(out, r.cfg.NGINX)
	}
	return out
}

// watch lists the processes whose CPU a phase on t reads: the proxy (if
// any) and the backend.
func (r *runner) watch(t Target) ([]int, []string) {
	if t.PID > 0 {
		return []int{t.PID, r.cfg.BackendPID}, []string{t.Name, "backend"}
	}
	return []int{r.cfg.BackendPID}, []string{"backend"}
}

// saveProfiles saves a CPU profile and an allocation profile (what was
// allocated in the window) of about dur (5s when 0) of the gateway and,
// if asked (backend true), of the backend, when profiling is configured;
// the returned function waits for them.
func (r *runner) saveProfiles(ctx context.Context, t Target, label string, dur time.Duration, backend bool) (wait func()) {
	if !r.isGateway(t) || r.cfg.ProfileDir == "" {
		return func() {}
	}
	if dur <= 0 {
		dur = 5 * time.Second
	}
	secs := int(math.Ceil(dur.Seconds()))
	var wg sync.WaitGroup
	save := func(base, kind, name string) {
		if base == "" {
			return
		}
		wg.Go(func() {
			url := fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", base, kind, secs)
			if err := r.saveURL(ctx, url, name, time.Duration(secs+15)*time.Second); err != nil {
				r.logf("profile %s: %v", name, err)
			}
		})
	}
	save(r.cfg.PprofURL, "profile", "gateway-cpu-"+label+".pprof")
	save(r.cfg.PprofURL, "allocs", "gateway-allocs-"+label+".pprof")
	if backend {
		save(r.cfg.BackendPprofURL, "profile", "backend-cpu-"+label+".pprof")
		save(r.cfg.BackendPprofURL, "allocs", "backend-allocs-"+label+".pprof")
	}
	return wg.Wait
}

// saveURL writes the body of a GET to ProfileDir/name.
func (r *runner) saveURL(ctx context.Context, url, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(r.cfg.ProfileDir, name))
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// newRunner returns a runner logging to logw, with a random run id (in
// channel names, so runs never share channels) and the admin API client.
func newRunner(logw io.Writer, adminURL, token string) *runner {
	return &runner{
		log:   logw,
		id:    strings.ToLower(rand.Text()[:6]),
		admin: &admin{base: strings.TrimSuffix(adminURL, "/"), token: token, http: &http.Client{}},
	}
}

// Run measures everything, in this order: gateway memory at Sessions idle
// sessions and the handover(s) on those sessions, NGINX memory, round-trip
// latency on every target, fan-out on every target. Memory comes first so
// that the proxies' RSS is read on fresh processes. Progress goes to logw.
func Run(ctx context.Context, cfg Config, logw io.Writer) (*Result, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := newRunner(logw, cfg.AdminURL, cfg.AdminToken)
	r.cfg = cfg
	r.res = &Result{
		Started: time.Now().UTC(), Config: cfg, LoadAvg: procstat.LoadAvg(),
		Latency: map[string]RTT{}, Fanout: map[string]Fanout{}, Memory: map[string]Memory{},
	}

	r.res.Config.AdminToken = ""
	st, err := r.admin.status(ctx)
	if err != nil {
		return nil, err
	}
	if st.Weight != 0 {
		return nil, fmt.Errorf("gwbench: the gateway must start at weight 0 (all on blue), not %v", st.Weight)
	}
	pids := []int{cfg.Gateway.PID, cfg.BackendPID}
	if cfg.NGINX.PID > 0 {
		pids = append(pids, cfg.NGINX.PID)
	}
	r.res.BusyBefore = waitQuiet(ctx, pids, cfg.QuietWait, cfg.QuietBelow, r.logf)
	r.logf("other processes use %.2f cores; starting", r.res.BusyBefore)

	if cfg.runs(PhaseHandover) {
		if err := r.gatewaySessions(ctx); err != nil {
			return r.res, err
		}
	}
	if cfg.NGINX.Addr != "" && cfg.runs(PhaseHandover) {
		m, clients, s, err := r.idleMemory(ctx, cfg.NGINX, cfg.NGINXSessions, "")
		closeAll(s, clients)
		if err != nil {
			return r.res, err
		}
		r.res.Memory[cfg.NGINX.Name] = m
	}
	if cfg.runs(PhaseLatency) {
		if r.res.Latency, err = r.latency(ctx); err != nil {
			return r.res, err
		}
	}
	if cfg.runs(PhaseFanout) {
		if r.res.Fanout, err = r.fanoutRounds(ctx); err != nil {
			return r.res, err // with the rounds measured
		}
	}
	if self, err := procstat.Read(0); err == nil {
		r.res.DriverRSS = self.HWM
	}
	return r.res, nil
}

// gatewaySessions reads the gateway's memory at Sessions idle sessions,
// then moves them all blue→green (and back with Reverse) under load.
func (r *runner) gatewaySessions(ctx context.Context) error {
	t := r.cfg.Gateway
	t.SocketIO = r.cfg.SessionsSocketIO
	m, clients, s, err := r.idleMemory(ctx, t, r.cfg.Sessions, r.cfg.GCURL)
	defer func() { closeAll(s, clients) }()
	if err != nil {
		return err
	}
	r.res.Memory[r.cfg.Gateway.Name] = m
	if r.cfg.PprofURL != "" && r.cfg.ProfileDir != "" {
		if err := r.saveURL(ctx, r.cfg.PprofURL+"/debug/pprof/heap", "gateway-heap-idle.pprof", 30*time.Second); err != nil {
			r.logf("heap profile: %v", err)
		}
		// The text form ends with the runtime's MemStats: how the RSS
		// splits into heap, stacks and the runtime's own.
		if err := r.saveURL(ctx, r.cfg.PprofURL+"/debug/pprof/heap?debug=1", "gateway-heap-idle.txt", 30*time.Second); err != nil {
			r.logf("heap profile (text): %v", err)
		}
		if err := r.saveURL(ctx, r.cfg.PprofURL+"/debug/pprof/goroutine?debug=1", "gateway-goroutines-idle.txt", 30*time.Second); err != nil {
			r.logf("goroutine profile: %v", err)
		}
	}
	moves := []move{{0, 100, r.cfg.PerSessionRate, false}}
	if r.cfg.Reverse {
		moves = append(moves, move{100, 0, r.cfg.PerSessionRate, false})
	}
	if r.cfg.StressRate > 0 {
		last := moves[len(moves)-1]
		moves = append(moves, move{last.to, last.from, r.cfg.StressRate, false})
	}
	for _, mv := range moves {
		h, err := r.handover(ctx, clients, s, mv)
		r.res.Handover = append(r.res.Handover, h)
		if err != nil {
			return err
		}
	}
	if r.cfg.Prepared {
		var err error
		if clients, err = r.preparedPair(ctx, clients, s, moves[len(moves)-1].to); err != nil {
			return err
		}
		moves = append(moves, move{0, 100, r.cfg.PerSessionRate, true})
	}
	if last := moves[len(moves)-1]; last.to != 0 { // later phases compare the gateway over blue with blue direct
		closeAll(s, clients)
		clients = nil
		if _, err := r.admin.setWeight(ctx, 0); err != nil {
			return err
		}
	}
	return nil
}

// preparedPair measures a move with its connections prepared ahead
// beside one without, on the same sessions: 0→100 dialing, back to 0,
// then 0→100 prepared. A prepared session holds three sockets at the
// gateway, so where PreparedSessions is lower than the sessions held
// (a low open-file limit) the others are closed first. weight is the
// weight the sessions are at; it returns the clients still open.
func (r *runner) preparedPair(ctx context.Context, clients []*client, s *sink, weight float64) ([]*client, error) {
	if n := r.cfg.PreparedSessions; n > 0 && n < len(clients) {
		closeAll(s, clients[n:])
		clients = clients[:n]
		ok := poll(ctx, 30*time.Second, func() bool {
			st, err := r.admin.status(ctx)
			return err == nil && st.Sessions.Blue+st.Sessions.Green == n
		})
		if !ok {
			return clients, fmt.Errorf("handover: the gateway still holds more than %d sessions 30s after the others closed", n)
		}
	}
	pair := []move{{0, 100, r.cfg.PerSessionRate, false}, {100, 0, r.cfg.PerSessionRate, false}, {0, 100, r.cfg.PerSessionRate, true}}
	if weight != 0 {
		pair = append([]move{{weight, 0, r.cfg.PerSessionRate, false}}, pair...)
	}
	for _, mv := range pair {
		h, err := r.handover(ctx, clients, s, mv)
		r.res.Handover = append(r.res.Handover, h)
		if err != nil {
			return clients, err
		}
	}
	return clients, nil
}

// poll checks cond every 100 ms until it holds (true) or d has passed or
// ctx ended (false).
func poll(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || sleep.For(ctx, 100*time.Millisecond) != nil {
			return false
		}
	}
	return true
}
