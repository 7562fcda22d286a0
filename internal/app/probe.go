package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/upstream"
)

// ErrProbeLost: the green check's probe did not come back in time.
var ErrProbeLost = errors.New("app: probe not delivered")

// ErrNoProbeSession: Publish before any Subscribe, or after the
// subscription's connection ended.
var ErrNoProbeSession = errors.New("app: no probe session")

// ProbeTransport is a health.ProbeTransport over an upstream driver: each
// Subscribe dials one backend session of its own, and Publish goes out on
// the latest one (the prober publishes on the session it subscribed with,
// so a publish also proves that session alive).
type ProbeTransport struct {
	dialer upstream.Dialer

	mu   sync.Mutex
	conn upstream.Conn // of the latest subscription
}

var _ health.ProbeTransport = (*ProbeTransport)(nil)

// NewProbeTransport returns a transport dialing d.
func NewProbeTransport(d upstream.Dialer) *ProbeTransport { return &ProbeTransport{dialer: d} }

// Subscribe implements health.ProbeTransport.
func (t *ProbeTransport) Subscribe(ctx context.Context, channel string, deliver func([]byte)) (health.ProbeSubscription, error) {
	h := &probeHandler{channel: channel, deliver: deliver}
	c, err := t.dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	if _, err := c.Subscribe(ctx, channel, 0, false); err != nil {
		_ = c.Close()
		return nil, err
	}
	t.mu.Lock()
	t.conn = c
	t.mu.Unlock()
	return &probeSub{t: t, c: c}, nil
}

// Publish implements health.ProbeTransport.
func (t *ProbeTransport) Publish(ctx context.Context, channel string, payload []byte) error {
	t.mu.Lock()
	c := t.conn
	t.mu.Unlock()
	if c == nil {
		return ErrNoProbeSession
	}
	_, err := c.Publish(ctx, channel, payload)
	return err
}

// probeHandler passes the probe channel's payloads on; the prober reads
// each before it returns, so a payload lent by the reader needs no copy. Closing the
// connection waits for its reading goroutine, so deliver is never called
// after probeSub.Close returns.
type probeHandler struct {
	channel string
	deliver func([]byte)
}

func (h *probeHandler) HandleEvent(ev upstream.Event) {
	if ev.Kind == upstream.KindMessage && ev.Channel == h.channel {
		h.deliver(ev.Data)
	}
}

func (h *probeHandler) HandleClose(error) {}
func (h *probeHandler) Flush()            {}

type probeSub struct {
	t *ProbeTransport
	c upstream.Conn
}

func (s *probeSub) Done() <-chan struct{} { return s.c.Done() }

func (s *probeSub) Close() error {
	s.t.mu.Lock()
	if s.t.conn == s.c {
		s.t.conn = nil
	}
	s.t.mu.Unlock()
	return s.c.Close()
}

// buildProbers makes one continuous prober per backend, unless disabled.
func (a *App) buildProbers() error {
	p := a.cfg.Health.Probe
	if p.Disabled {
		return nil
	}
	for _, c := range []router.Color{router.Blue, router.Green} {
		pr, err := health.NewProber(health.ProberConfig{
			Recorder:  a.monitor.Backend(c),
			Transport: NewProbeTransport(a.probeDial[c]),
			Channel:   p.Channel,
			Interval:  p.Interval,
		})
		if err != nil {
			return fmt.Errorf("app: prober %s: %w", c, err)
		}
		a.probers = append(a.probers, pr)
	}
	return nil
}

// checkBackend is the controller's check before anyone moves to c: dial
// c, subscribe to a channel of the check's own, publish one probe on it
// and wait for it to come back.
func (a *App) checkBackend(ctx context.Context, c router.Color) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.GreenCheckTimeout)
	defer cancel()
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails
	tag := hex.EncodeToString(id[:])
	channel := a.cfg.Health.Probe.Channel + ".check." + tag
	payload := []byte(`{"baton_check":"` + tag + `"}`)

	got := make(chan struct{}, 1)
	t := NewProbeTransport(a.probeDial[c])
	sub, err := t.Subscribe(ctx, channel, func(b []byte) {
		if bytes.Contains(b, []byte(tag)) { // the backend may re-space the JSON
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return fmt.Errorf("app: check %s: subscribe: %w", c, err)
	}
	defer func() { _ = sub.Close() }()
	if err := t.Publish(ctx, channel, payload); err != nil {
		return fmt.Errorf("app: check %s: publish: %w", c, err)
	}
	select {
	case <-got:
		return nil
	case <-sub.Done():
		return fmt.Errorf("app: check %s: %w", c, upstream.ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("app: check %s: %w: %w", c, ErrProbeLost, ctx.Err())
	}
}
