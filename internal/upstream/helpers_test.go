package upstream_test

import (
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/upstream"
)

// recorder is a Handler that keeps everything it is given.
type recorder struct {
	mu     sync.Mutex
	events []upstream.Event
	closed bool
	err    error
	notify chan struct{} // one token after every change
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) HandleEvent(ev upstream.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev.Clone()) // ev's bytes are lent
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Flush() {}

func (r *recorder) HandleClose(err error) {
	r.mu.Lock()
	r.closed, r.err = true, err
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds on the recorded state, or fails the test.
func (r *recorder) waitFor(t *testing.T, what string, cond func(events []upstream.Event, closed bool) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(r.events, r.closed)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.notify:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s; have %d events, closed=%v", what, len(r.events), r.closed)
		}
	}
}

// messages returns the message events of channel.
func messages(events []upstream.Event, channel string) []upstream.Event {
	var out []upstream.Event
	for _, ev := range events {
		if ev.Kind == upstream.KindMessage && ev.Channel == channel {
			out = append(out, ev)
		}
	}
	return out
}

func newBroker(t *testing.T) *membroker.Broker {
	b, err := membroker.New(membroker.Options{HistorySize: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}
