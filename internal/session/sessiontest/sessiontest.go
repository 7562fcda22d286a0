// Package sessiontest has test support for code built on sessions: a Sink
// that records what a client would receive and checks the exactly-once,
// in-order rule as it goes, and a publisher that keeps channels busy.
package sessiontest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/upstream"
)

// Sink is a session.Sink that records deliveries. Safe for concurrent use.
type Sink struct {
	mu       sync.Mutex
	seqs     map[string][]uint64
	events   []upstream.Event // everything that is not a message
	problems []string         // order violations seen by Deliver
	closed   error
	isClosed bool
	notify   chan struct{}
}

// NewSink returns an empty recording sink.
func NewSink() *Sink {
	return &Sink{seqs: make(map[string][]uint64), notify: make(chan struct{}, 1)}
}

// Flush does nothing: Deliver records at once.
func (k *Sink) Flush() {}

// Deliver records ev; a message whose seq is not the previous one plus one
// is recorded as a problem (the first message of a channel may have any
// seq).
func (k *Sink) Deliver(ev upstream.Event) error {
	k.mu.Lock()
	if ev.Kind == upstream.KindMessage {
		got := k.seqs[ev.Channel]
		if n := len(got); n > 0 && ev.Seq != got[n-1]+1 {
			k.problems = append(k.problems, fmt.Sprintf("channel %q: seq %d after %d", ev.Channel, ev.Seq, got[n-1]))
		}
		k.seqs[ev.Channel] = append(got, ev.Seq)
	} else {
		k.events = append(k.events, ev.Clone()) // ev's bytes are lent
	}
	k.mu.Unlock()
	k.poke()
	return nil
}

// Close records the reason.
func (k *Sink) Close(reason error) {
	k.mu.Lock()
	k.closed, k.isClosed = reason, true
	k.mu.Unlock()
	k.poke()
}

func (k *Sink) poke() {
	select {
	case k.notify <- struct{}{}:
	default:
	}
}

// Closed reports whether Close was called, and with what.
func (k *Sink) Closed() (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.isClosed, k.closed
}

// Seqs returns the seqs delivered on channel, in delivery order.
func (k *Sink) Seqs(channel string) []uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.seqs[channel])
}

// Events returns the non-message events delivered.
func (k *Sink) Events() []upstream.Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.events)
}

// Last returns the last seq delivered on channel (0 if none).
func (k *Sink) Last(channel string) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.seqs[channel]
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// WaitFor waits until cond holds or timeout passes; it reports whether
// cond held.
func (k *Sink) WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-k.notify:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// WaitSeq waits until channel has delivered seq (or later), failing the
// test after timeout.
func (k *Sink) WaitSeq(t testing.TB, channel string, seq uint64, timeout time.Duration) {
	t.Helper()
	if !k.WaitFor(timeout, func() bool { return k.Last(channel) >= seq }) {
		t.Fatalf("channel %q: last delivered seq %d, want %d within %v", channel, k.Last(channel), seq, timeout)
	}
}

// CheckExactly fails the test unless channel delivered exactly the seqs
// from..to, each once, in order, and Deliver saw no violation.
func (k *Sink) CheckExactly(t testing.TB, channel string, from, to uint64) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.problems {
		t.Errorf("order violation: %s", p)
	}
	got := k.seqs[channel]
	if uint64(len(got)) != to-from+1 || (len(got) > 0 && (got[0] != from || got[len(got)-1] != to)) {
		first, last := uint64(0), uint64(0)
		if len(got) > 0 {
			first, last = got[0], got[len(got)-1]
		}
		t.Errorf("channel %q: %d messages (seq %d..%d), want exactly %d..%d", channel, len(got), first, last, from, to)
	}
}

// Publisher publishes to channels of a broker, round robin, until
// stopped: every message goes to all channels in turn, with a pause
// between rounds.
type Publisher struct {
	b        broker.Broker
	channels []string
	pause    time.Duration

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	last   map[string]uint64
	err    error
}

// Publish starts publishing on channels, one round every pause.
func Publish(b broker.Broker, pause time.Duration, channels ...string) *Publisher {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{b: b, channels: channels, pause: pause, cancel: cancel, done: make(chan struct{}), last: make(map[string]uint64)}
	go p.run(ctx)
	return p
}

func (p *Publisher) run(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.pause)
	defer t.Stop()
	for n := 0; ; n++ {
		for _, ch := range p.channels {
			m, err := p.b.Publish(ctx, ch, fmt.Appendf(nil, `{"n":%d}`, n))
			p.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					p.err = err
				}
				p.mu.Unlock()
				return
			}
			p.last[ch] = m.Seq
			p.mu.Unlock()
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// Last is the newest seq published on channel so far.
func (p *Publisher) Last(channel string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last[channel]
}

// Stop stops publishing and returns the last seq of each channel, or the
// publish error that stopped it early.
func (p *Publisher) Stop() (map[string]uint64, error) {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.err
}
