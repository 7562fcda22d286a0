package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/loadgen/procstat"
	"github.com/baton-rt/baton/internal/loadgen/samples"
	"github.com/baton-rt/baton/internal/sleep"
)

// Run measures one server: idle memory and handshakes, then fan-out latency
// at a fixed rate, then fan-out at saturation. Progress lines go to logw.
func Run(ctx context.Context, cfg Config, logw io.Writer) (*Result, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cod, err := codecFor(cfg.Protocol)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, log: logw, sink: &sink{}}
	r.res = &Result{Name: cfg.Name, Protocol: cfg.Protocol, Started: time.Now().UTC(), LoadAvg: procstat.LoadAvg()}
	if err := waitListening(ctx, cfg.Addr, 15*time.Second); err != nil {
		return nil, err
	}
	r.res.BusyBefore = r.waitQuiet(ctx)
	d := newDialer(cfg.Addr, cod, r.sink, cfg.SourceIPs)
	defer func() { closeAll(r.sink, r.clients) }()

	if err := r.idle(ctx, d); err != nil {
		return nil, err
	}
	if err := r.keepSubscribers(ctx); err != nil {
		return nil, err
	}
	pub := newPublisher(cfg.Addr, cfg.Channel, cfg.PayloadSize, cfg.InFlight+2)
	defer pub.close()
	// Each timed phase waits for a quiet machine again: outside load on a
	// shared machine comes in bursts of a minute or two.
	r.waitQuiet(ctx)
	if r.res.Latency, err = r.latency(ctx, pub); err != nil {
		return nil, err
	}
	r.waitQuiet(ctx)
	if r.res.Saturate, err = r.saturate(ctx, pub); err != nil {
		return nil, err
	}
	if s, err := procstat.Read(cfg.PID); err == nil {
		r.res.ServerPeakRSS = s.HWM
	}
	r.res.Idle.Pings = r.sink.pings.Load()
	r.res.ServerErrors = r.sink.errors.Load()
	return r.res, nil
}

type runner struct {
	cfg     Config
	log     io.Writer
	sink    *sink
	res     *Result
	clients []*client
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "[%s] "+format+"\n", append([]any{r.cfg.Name}, args...)...)
}

// idle opens Conns connections, lets them sit, and reads the server's RSS
// growth per connection.
func (r *runner) idle(ctx context.Context, d *dialer) error {
	before, err := r.settledRSS(ctx)
	if err != nil {
		return err
	}
	r.logf("RSS before: %.1f MiB; connecting %d", mib(before.RSS), r.cfg.Conns)
	start := time.Now()
	r.clients, err = connectAll(ctx, d, r.cfg.Conns, r.cfg.DialConcurrency)
	took := time.Since(start)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	r.logf("connected %d in %.2fs (%.0f/s); idle %s", len(r.clients), took.Seconds(), float64(len(r.clients))/took.Seconds(), r.cfg.Idle)
	if err := sleep.For(ctx, r.cfg.Idle); err != nil {
		return err
	}
	after, err := r.settledRSS(ctx)
	if err != nil {
		return err
	}
	self, _ := procstat.Read(0)
	n := len(r.clients)
	r.res.Idle = Idle{
		Conns:            n,
		HandshakeSeconds: took.Seconds(),
		HandshakesPerSec: float64(n) / took.Seconds(),
		RSSBefore:        before.RSS,
		RSSAfter:         after.RSS,
		BytesPerConn:     float64(after.RSS-before.RSS) / float64(n),
		ServerThreads:    after.Threads,
		ClientRSS:        self.RSS,
	}
	r.logf("RSS after: %.1f MiB → %.0f B/conn", mib(after.RSS), r.res.Idle.BytesPerConn)
	if dropped := r.sink.dropped.Load(); dropped > 0 {
		return fmt.Errorf("%d idle connections were closed by the server", dropped)
	}
	r.profile(ctx, "heap", "/debug/pprof/heap?gc=1")
	return nil
}

// keepSubscribers subscribes the first Subscribers clients to the channel
// and closes the others.
func (r *runner) keepSubscribers(ctx context.Context) error {
	keep, rest := r.clients[:r.cfg.Subscribers], r.clients[r.cfg.Subscribers:]
	closeAll(r.sink, rest)
	r.clients = keep
	start := time.Now()
	if err := subscribeAll(ctx, keep, r.cfg.Channel, r.cfg.DialConcurrency); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	r.logf("subscribed %d to %q in %.2fs", len(keep), r.cfg.Channel, time.Since(start).Seconds())
	return nil
}

// latency publishes at a fixed rate and records publish→deliver latency of
// every delivery.
func (r *runner) latency(ctx context.Context, pub *publisher) (Fanout, error) {
	n := int(float64(r.cfg.LatencyRate) * r.cfg.LatencyFor.Seconds())
	subs := int64(len(r.clients))
	f := Fanout{Subscribers: int(subs), RatePerSec: float64(r.cfg.LatencyRate), Seconds: r.cfg.LatencyFor.Seconds()}
	rec := samples.NewRecorder(min(n*int(subs), 4<<20))
	base := r.sink.delivered.Load()
	dropped := r.sink.dropped.Load()
	cpu0, err := r.cpuSample()
	if err != nil {
		return f, err
	}
	r.sink.lat.Store(rec)
	defer r.sink.lat.Store(nil)
	r.logf("latency: %d publishes at %d/s", n, r.cfg.LatencyRate)

	var (
		published, failed atomic.Int64
		wg                sync.WaitGroup
	)
	sem := make(chan struct{}, 16) // a slow publish must not delay the next tick
	tick := time.NewTicker(time.Second / time.Duration(r.cfg.LatencyRate))
	defer tick.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return f, ctx.Err()
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			failed.Add(1) // 16 publishes outstanding: the rate is not sub-saturation
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := pub.publish(ctx); err != nil {
				failed.Add(1)
				return
			}
			published.Add(1)
		})
	}
	wg.Wait()
	cpu1, err := r.cpuSample()
	if err != nil {
		return f, err
	}
	f.ServerCores, f.ClientCores, f.OtherCores = cpuSplit(cpu0, cpu1)
	f.Published, f.PublishErrors = published.Load(), failed.Load()
	got := r.drain(ctx, base, f.Published*subs)
	f.Delivered = got
	f.Lost = max(f.Published*subs-got, 0)
	f.Dropped = r.sink.dropped.Load() - dropped
	f.Latency = summarize(rec.Values())
	r.logf("latency: p50 %.0fµs p99 %.0fµs, %d delivered, %d lost", f.Latency.P50us, f.Latency.P99us, got, f.Lost)
	return f, nil
}

// saturate publishes as fast as the service accepts, InFlight at a time,
// and counts deliveries over Window after Warmup. Publishers hold back when
// they run more than MaxLag messages ahead of the average subscriber, so the
// run measures sustained delivery rather than queue growth in the server.
func (r *runner) saturate(ctx context.Context, pub *publisher) (Fanout, error) {
	subs := int64(len(r.clients))
	f := Fanout{Subscribers: int(subs), InFlight: r.cfg.InFlight, MaxLag: r.cfg.MaxLag}
	base := r.sink.delivered.Load()
	dropped := r.sink.dropped.Load()
	var published, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	r.logf("saturation: %d in flight, warmup %s, window %s", r.cfg.InFlight, r.cfg.Warmup, r.cfg.Window)
	for i := 0; i < r.cfg.InFlight; i++ {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if published.Load()-(r.sink.delivered.Load()-base)/subs >= int64(r.cfg.MaxLag) {
					time.Sleep(200 * time.Microsecond)
					continue
				}
				if err := pub.publish(ctx); err != nil {
					failed.Add(1)
					time.Sleep(10 * time.Millisecond) // don't spin on a refusing server
					continue
				}
				published.Add(1)
			}
		})
	}
	measure := func() error {
		if err := sleep.For(ctx, r.cfg.Warmup); err != nil {
			return err
		}
		cpu0, err := r.cpuSample()
		if err != nil {
			return err
		}
		d0, p0 := r.sink.delivered.Load(), published.Load()
		prof := r.profileAsync(ctx, "cpu", fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(r.cfg.Window.Seconds())))
		if err := sleep.For(ctx, r.cfg.Window); err != nil {
			return err
		}
		cpu1, err := r.cpuSample()
		if err != nil {
			return err
		}
		d1, p1 := r.sink.delivered.Load(), published.Load()
		prof.Wait()
		secs := cpu1.server.At.Sub(cpu0.server.At).Seconds()
		f.Seconds = secs
		f.DeliveriesPerSec = float64(d1-d0) / secs
		f.PublishesPerSec = float64(p1-p0) / secs
		f.ServerCores, f.ClientCores, f.OtherCores = cpuSplit(cpu0, cpu1)
		if cpu := (cpu1.server.CPU - cpu0.server.CPU).Seconds(); cpu > 0 {
			f.DeliveriesPerCPUSec = float64(d1-d0) / cpu
		}
		return nil
	}
	err := measure()
	close(stop)
	wg.Wait()
	if err != nil {
		return f, err
	}
	f.Published, f.PublishErrors = published.Load(), failed.Load()
	got := r.drain(ctx, base, f.Published*subs)
	f.Delivered = got
	f.Lost = max(f.Published*subs-got, 0)
	f.Dropped = r.sink.dropped.Load() - dropped
	r.logf("saturation: %.0f deliveries/s (%.0f publishes/s), server %.2f cores, load generator %.2f, others %.2f, %d lost, %d dropped",
		f.DeliveriesPerSec, f.PublishesPerSec, f.ServerCores, f.ClientCores, f.OtherCores, f.Lost, f.Dropped)
	return f, nil
}

// cpuAt is where the server, this process and the whole machine stood.
type cpuAt struct {
	server, self procstat.Sample
	machine      time.Duration
}

func (r *runner) cpuSample() (cpuAt, error) {
	var (
		a   cpuAt
		err error
	)
	m, err := procstat.ReadMachine()
	if err != nil {
		return a, err
	}
	// Interrupt time counts as busy, so cpuSplit reports it under other.
	a.machine = m.Busy + m.IRQ
	if a.server, err = procstat.Read(r.cfg.PID); err != nil {
		return a, err
	}
	a.self, err = procstat.Read(0)
	return a, err
}

// cpuSplit is the average cores used between a and b by the server, by the
// load generator and by everything else on the machine.
func cpuSplit(a, b cpuAt) (server, self, other float64) {
	wall := float64(b.server.At.Sub(a.server.At))
	if wall <= 0 {
		return 0, 0, 0
	}
	server, self = procstat.Cores(a.server, b.server), procstat.Cores(a.self, b.self)
	other = max(float64(b.machine-a.machine)/wall-server-self, 0)
	return server, self, other
}

// waitQuiet waits up to QuietWait for the machine's other processes to use
// less than QuietBelow cores, and returns the last level seen.
func (r *runner) waitQuiet(ctx context.Context) float64 {
	const sample = 2 * time.Second
	if r.cfg.QuietWait < 0 {
		return -1 // not measured
	}
	deadline := time.Now().Add(r.cfg.QuietWait)
	logged := false
	for {
		a, err := r.cpuSample()
		if err != nil || sleep.For(ctx, sample) != nil {
			return -1
		}
		b, err := r.cpuSample()
		if err != nil {
			return -1
		}
		// The idle server's own use is not noise; this process is idle.
		_, _, other := cpuSplit(a, b)
		if other < r.cfg.QuietBelow || time.Now().After(deadline) {
			if logged || other >= r.cfg.QuietBelow {
				r.logf("other processes use %.2f cores; starting", other)
			}
			return other
		}
		if !logged {
			r.logf("other processes use %.2f cores; waiting up to %s for < %.2f", other, r.cfg.QuietWait, r.cfg.QuietBelow)
			logged = true
		}
	}
}

// drain waits until want deliveries arrived since base, up to Drain, and
// returns how many did.
func (r *runner) drain(ctx context.Context, base, want int64) int64 {
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if r.sink.delivered.Load()-base >= want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r.sink.delivered.Load() - base
}

// settledRSS asks the server to collect garbage (when it can be asked),
// waits Settle and reads its memory.
func (r *runner) settledRSS(ctx context.Context) (procstat.Sample, error) {
	if r.cfg.GCURL != "" {
		if err := get(ctx, r.cfg.GCURL, io.Discard); err != nil {
			return procstat.Sample{}, fmt.Errorf("trigger server GC: %w", err)
		}
	}
	if err := sleep.For(ctx, r.cfg.Settle); err != nil {
		return procstat.Sample{}, err
	}
	return procstat.Read(r.cfg.PID)
}

// profile saves one pprof profile when profiling is configured; a failure
// is logged, not fatal: profiles explain results but are not results.
func (r *runner) profile(ctx context.Context, kind, path string) {
	if r.cfg.PprofURL == "" || r.cfg.ProfileDir == "" {
		return
	}
	name := filepath.Join(r.cfg.ProfileDir, fmt.Sprintf("%s-%s.pprof", fileSafe(r.cfg.Name), kind))
	f, err := os.Create(name)
	if err != nil {
		r.logf("profile %s: %v", kind, err)
		return
	}
	err = get(ctx, r.cfg.PprofURL+path, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.logf("profile %s: %v", kind, err)
		return
	}
	r.res.Profiles = append(r.res.Profiles, name)
}

func (r *runner) profileAsync(ctx context.Context, kind, path string) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() { r.profile(ctx, kind, path) })
	return &wg
}

func get(ctx context.Context, url string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Close = true // rare requests: leave no idle connection behind
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// waitListening dials addr until it accepts, so the run can start right
// after the server process.
func waitListening(ctx context.Context, addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		if sleep.For(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("server at %s not listening: %w", addr, err)
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func fileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}
