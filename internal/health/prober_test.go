package health

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
)

// fakeTransport delivers each publish synchronously, after advancing the
// fake clock by delay, unless the probe number is in drop.
type fakeTransport struct {
	clk     *fakeClock
	delay   time.Duration
	mu      sync.Mutex
	deliver func([]byte)
	drop    map[int]bool
	fail    map[int]bool
	n       int
	subErr  error
}

type fakeSub struct{ done chan struct{} }

func (s *fakeSub) Done() <-chan struct{} { return s.done }
func (s *fakeSub) Close() error          { return nil }

func (f *fakeTransport) Subscribe(_ context.Context, _ string, deliver func([]byte)) (ProbeSubscription, error) {
	if f.subErr != nil {
		return nil, f.subErr
	}
	f.mu.Lock()
	f.deliver = deliver
	f.mu.Unlock()
	return &fakeSub{done: make(chan struct{})}, nil
}

func (f *fakeTransport) Publish(_ context.Context, _ string, payload []byte) error {
	f.mu.Lock()
	f.n++
	n, deliver := f.n, f.deliver
	f.mu.Unlock()
	if f.fail[n] {
		return errors.New("backend said no")
	}
	if !f.drop[n] {
		f.clk.Advance(f.delay)
		deliver(payload)
		deliver(payload) // a duplicate must not count twice
		deliver([]byte(`{"baton_probe":"someone-else","n":1}`))
	}
	return nil
}

func TestProberFake(t *testing.T) {
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Clock: clk})
	ft := &fakeTransport{clk: clk, delay: 7 * time.Millisecond, drop: map[int]bool{3: true}, fail: map[int]bool{5: true}}
	p, err := NewProber(ProberConfig{Recorder: r, Transport: ft, Timeout: time.Second, ID: "me"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		p.probe(ctx)
	}
	// Probe 3 is still pending: not yet a failure.
	s := r.Snapshot()
	if s.Counts.ProbeFailures != 1 || s.Latency[ProbeDelivery].Count != 4 {
		t.Fatalf("before timeout: %+v %+v", s.Counts, s.Latency[ProbeDelivery])
	}
	clk.Advance(2 * time.Second)
	p.sweep()
	s = r.Snapshot()
	if s.Counts.Requests != 7 || s.Counts.ProbeFailures != 2 {
		t.Fatalf("after timeout: %+v (want 6 publishes + 1 subscribe, 2 failures)", s.Counts)
	}
	l := s.Latency[ProbeDelivery]
	if l.Count != 4 || l.P50 != 7*time.Millisecond || l.Max != 7*time.Millisecond {
		t.Fatalf("latency %+v", l)
	}
	// A probe delivered after its timeout was counted is not observed.
	p.deliver([]byte(`{"baton_probe":"me","n":3}`))
	if got := r.Snapshot().Latency[ProbeDelivery].Count; got != 4 {
		t.Fatalf("late probe observed: %d", got)
	}
}

func TestProberPendingBound(t *testing.T) {
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Clock: clk})
	drop := make(map[int]bool)
	for i := range 1000 {
		drop[i] = true
	}
	ft := &fakeTransport{clk: clk, drop: drop}
	p, _ := NewProber(ProberConfig{Recorder: r, Transport: ft, Interval: time.Second, Timeout: 4 * time.Second})
	ctx := context.Background()
	_, _ = p.subscribe(ctx)
	for range 100 {
		p.probe(ctx)
	}
	if len(p.pending) > p.maxPend || p.maxPend != 20 {
		t.Fatalf("pending %d, bound %d", len(p.pending), p.maxPend)
	}
	if got := r.Snapshot().Counts.ProbeFailures; got != 100-int64(p.maxPend) {
		t.Fatalf("evicted %d", got)
	}
}

func TestProberSubscribeRetry(t *testing.T) {
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Clock: clk})
	ft := &fakeTransport{clk: clk, subErr: errors.New("dial refused")}
	p, _ := NewProber(ProberConfig{Recorder: r, Transport: ft, Interval: time.Millisecond, Timeout: 4 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for r.Snapshot().Counts.ProbeFailures < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := r.Snapshot().Counts; s.ProbeFailures < 3 || s.Requests < s.ProbeFailures {
		t.Fatalf("counts %+v", s)
	}
}

func TestNewProberInvalid(t *testing.T) {
	_, r := newMonitor(t, Config{})
	for _, c := range []ProberConfig{{}, {Recorder: r}, {Recorder: r, Transport: &fakeTransport{}, Interval: -1}, {Recorder: r, Transport: &fakeTransport{}, Timeout: -1}} {
		if _, err := NewProber(c); !errors.Is(err, ErrInvalidProber) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// brokerTransport probes a real in-memory broker.
type brokerTransport struct{ b broker.Broker }

type brokerSub struct {
	sub  broker.Subscription
	done chan struct{}
	wg   sync.WaitGroup
}

func (s *brokerSub) Done() <-chan struct{} { return s.done }
func (s *brokerSub) Close() error {
	err := s.sub.Close()
	s.wg.Wait()
	return err
}

func (t brokerTransport) Subscribe(ctx context.Context, channel string, deliver func([]byte)) (ProbeSubscription, error) {
	sub, err := t.b.Subscribe(ctx, channel)
	if err != nil {
		return nil, err
	}
	s := &brokerSub{sub: sub, done: make(chan struct{})}
	s.wg.Go(func() {
		defer close(s.done)
		for m := range sub.Messages() {
			deliver(m.Data)
		}
	})
	return s, nil
}

func (t brokerTransport) Publish(ctx context.Context, channel string, payload []byte) error {
	_, err := t.b.Publish(ctx, channel, payload)
	return err
}

func TestProberMembroker(t *testing.T) {
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m, r := newMonitor(t, Config{})
	// A second prober of the other backend on the same broker and channel:
	// each must ignore the other's probes.
	other, _ := NewProber(ProberConfig{Recorder: m.recs[0], Transport: brokerTransport{b}, Interval: 5 * time.Millisecond})
	p, err := NewProber(ProberConfig{Recorder: r, Transport: brokerTransport{b}, Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, pr := range []*Prober{p, other} {
		wg.Go(func() {
			if err := pr.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for r.Snapshot().Latency[ProbeDelivery].Count < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	s := r.Snapshot()
	l := s.Latency[ProbeDelivery]
	if l.Count < 20 || l.Count > s.Counts.Requests {
		t.Fatalf("delivered %d of %d requests", l.Count, s.Counts.Requests)
	}
	if s.Counts.ProbeFailures != 0 {
		t.Fatalf("failures on a healthy broker: %+v", s.Counts)
	}
	if len(l.SamplesMs) != int(l.Count) || l.P99 <= 0 {
		t.Fatalf("samples %d, p99 %v", len(l.SamplesMs), l.P99)
	}
}
