package health

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
)

// ProbeTransport is the prober's access to one backend: a driver session
// of its own, dialled the way client sessions are.
type ProbeTransport interface {
	// Subscribe subscribes to channel and returns once the backend has
	// acknowledged it. deliver is then called, from any goroutine, with the
	// raw payload of every message on channel until the subscription ends.
	Subscribe(ctx context.Context, channel string, deliver func(payload []byte)) (ProbeSubscription, error)
	// Publish publishes payload (a JSON object) on channel.
	Publish(ctx context.Context, channel string, payload []byte) error
}

// ProbeSubscription is a live probe subscription.
type ProbeSubscription interface {
	// Done is closed when the subscription ends by itself (the connection
	// to the backend dropped); the prober then subscribes again.
	Done() <-chan struct{}
	// Close ends the subscription; deliver is not called after it returns.
	Close() error
}

// Prober defaults.
const (
	DefaultProbeChannel  = "baton.probe"
	DefaultProbeInterval = 100 * time.Millisecond
	DefaultProbeTimeout  = 5 * time.Second
)

// ProberConfig configures a Prober.
type ProberConfig struct {
	// Recorder receives the probe's counts and latencies: one Requests per
	// publish (and per subscribe attempt), one ProbeFailures per failed
	// publish, failed subscribe or probe not delivered within Timeout, and
	// one ProbeDelivery latency per delivered probe. Required.
	Recorder *Recorder
	// Transport reaches the backend. Required.
	Transport ProbeTransport
	// Channel is the probe channel. Empty means "baton.probe".
	Channel string
	// Interval is the time between probes. Zero means 100ms (10 per second,
	// 300 samples in a 30 s window).
	Interval time.Duration
	// Timeout is how long a probe may take to come back before it counts as
	// a failure. Zero means 5s.
	Timeout time.Duration
	// ID tells this prober's probes from other probers' on the same channel
	// (several gateways, or both backends on one broker). Empty means a
	// random ID.
	ID string
}

// ErrInvalidProber is wrapped by NewProber's errors.
var ErrInvalidProber = errors.New("health: invalid prober config")

// Prober publishes a probe message on one backend at a fixed rate and
// measures how long each takes to come back on its own subscription.
type Prober struct {
	cfg   ProberConfig
	rec   *Recorder
	clock Clock

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]time.Time // probe seq → publish time
	maxPend int
}

// probeMsg is the probe payload: {"baton_probe":"<id>","n":<seq>}.
type probeMsg struct {
	Probe string `json:"baton_probe"`
	N     uint64 `json:"n"`
}

// NewProber checks cfg and applies defaults.
func NewProber(cfg ProberConfig) (*Prober, error) {
	switch {
	case cfg.Recorder == nil:
		return nil, fmt.Errorf("%w: Recorder is nil", ErrInvalidProber)
	case cfg.Transport == nil:
		return nil, fmt.Errorf("%w: Transport is nil", ErrInvalidProber)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("%w: Interval %v", ErrInvalidProber, cfg.Interval)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: Timeout %v", ErrInvalidProber, cfg.Timeout)
	}
	if cfg.Channel == "" {
		cfg.Channel = DefaultProbeChannel
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultProbeInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultProbeTimeout
	}
	if cfg.ID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		cfg.ID = hex.EncodeToString(b[:])
	}
	return &Prober{
		cfg: cfg, rec: cfg.Recorder, clock: cfg.Recorder.clock,
		pending: make(map[uint64]time.Time),
		// Probes in flight are bounded by Timeout/Interval; the extra room
		// covers a sweep that runs a little late. Past it, the oldest probe
		// is given up (counted as a failure).
		maxPend: int(cfg.Timeout/cfg.Interval) + 16,
	}, nil
}

// Run subscribes, then publishes one probe every Interval until ctx is
// done; it returns nil then. A failed subscribe is counted and retried with
// backoff (Interval doubling up to Timeout); a subscription that ends by
// itself is replaced. Probes still in flight when Run returns are dropped
// uncounted.
func (p *Prober) Run(ctx context.Context) error {
	backoff := p.cfg.Interval
	for ctx.Err() == nil {
		sub, err := p.subscribe(ctx)
		if err != nil {
			if sleep.For(ctx, backoff) != nil {
				break
			}
			backoff = min(2*backoff, p.cfg.Timeout)
			continue
		}
		backoff = p.cfg.Interval
		p.loop(ctx, sub.Done())
		_ = sub.Close()
		if sleep.For(ctx, p.cfg.Interval) != nil { // no busy loop on a flapping backend
			break
		}
	}
	p.mu.Lock()
	clear(p.pending)
	p.mu.Unlock()
	return nil
}

func (p *Prober) subscribe(ctx context.Context) (ProbeSubscription, error) {
	p.rec.Count(Requests)
	sctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	sub, err := p.cfg.Transport.Subscribe(sctx, p.cfg.Channel, p.deliver)
	if err != nil && ctx.Err() == nil {
		p.rec.Count(ProbeFailures)
	}
	return sub, err
}

// loop probes until ctx is done or the subscription ends.
func (p *Prober) loop(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		p.sweep()
		p.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-done:
			p.sweep()
			return
		case <-t.C:
		}
	}
}

// probe publishes one probe. The publish waits at most Timeout.
func (p *Prober) probe(ctx context.Context) {
	p.mu.Lock()
	p.seq++
	n := p.seq
	if len(p.pending) >= p.maxPend {
		p.evictOldest()
	}
	// Registered before publishing: the delivery can beat Publish's return.
	p.pending[n] = p.clock.Now()
	p.mu.Unlock()

	payload, _ := json.Marshal(probeMsg{Probe: p.cfg.ID, N: n}) // cannot fail
	p.rec.Count(Requests)
	pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	err := p.cfg.Transport.Publish(pctx, p.cfg.Channel, payload)
	cancel()
	if err == nil {
		return
	}
	p.mu.Lock()
	_, still := p.pending[n]
	delete(p.pending, n)
	p.mu.Unlock()
	if still && ctx.Err() == nil { // shutting down is not the backend's fault
		p.rec.Count(ProbeFailures)
	}
}

// deliver is the subscription's callback.
func (p *Prober) deliver(payload []byte) {
	n, ok := parseProbe(payload, p.cfg.ID)
	if !ok {
		return // someone else's message or probe
	}
	now := p.clock.Now()
	p.mu.Lock()
	sent, ok := p.pending[n]
	delete(p.pending, n)
	p.mu.Unlock()
	if ok { // else a duplicate, or too late and already counted
		p.rec.Observe(ProbeDelivery, now.Sub(sent))
	}
}

// sweep counts probes older than Timeout as failures.
func (p *Prober) sweep() {
	deadline := p.clock.Now().Add(-p.cfg.Timeout)
	var lost int64
	p.mu.Lock()
	for n, sent := range p.pending {
		if sent.Before(deadline) {
			delete(p.pending, n)
			lost++
		}
	}
	p.mu.Unlock()
	p.rec.Add(ProbeFailures, lost)
}

// evictOldest gives up the oldest pending probe; p.mu is held.
func (p *Prober) evictOldest() {
	oldest := uint64(0)
	for n := range p.pending {
		if oldest == 0 || n < oldest {
			oldest = n
		}
	}
	delete(p.pending, oldest)
	p.rec.Count(ProbeFailures)
}

// parseProbe returns the probe number of payload if it is a probe of the
// prober with the given id.
func parseProbe(payload []byte, id string) (uint64, bool) {
	var m probeMsg
	if err := json.Unmarshal(payload, &m); err != nil || m.Probe != id || m.N == 0 {
		return 0, false
	}
	return m.N, true
}
