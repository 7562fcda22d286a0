package demo

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/broker"
)

// publishTick is how often the publisher wakes up; each tick publishes the
// messages due since the last one, so the rate holds at any value.
const publishTick = 10 * time.Millisecond

// publisher is the application's own producer: it publishes on the broker
// that both services share, round-robin over the channels at a steady
// rate, as a backend job would. It is the only publisher of those
// channels, so the seqs it is given are the whole stream.
type publisher struct {
	b        broker.Broker
	channels []string
	rate     float64 // messages per second

	mu     sync.Mutex
	last   map[string]uint64 // seq of the last message published per channel
	errors atomic.Uint64
	sent   atomic.Uint64
}

func newPublisher(b broker.Broker, channels []string, rate float64) *publisher {
	return &publisher{b: b, channels: channels, rate: rate, last: make(map[string]uint64)}
}

// run publishes until ctx ends.
func (p *publisher) run(ctx context.Context) {
	t := time.NewTicker(publishTick)
	defer t.Stop()
	start := time.Now()
	var n int64 // published so far
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due := int64(now.Sub(start).Seconds() * p.rate)
			for ; n < due && ctx.Err() == nil; n++ {
				p.publish(ctx, n)
			}
		}
	}
}

func (p *publisher) publish(ctx context.Context, n int64) {
	ch := p.channels[int(n%int64(len(p.channels)))]
	data := []byte(`{"n":` + strconv.FormatInt(n, 10) + `,"t":` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `}`)
	m, err := p.b.Publish(ctx, ch, data)
	if err != nil {
		if ctx.Err() == nil {
			p.errors.Add(1)
		}
		return
	}
	p.sent.Add(1)
	p.mu.Lock()
	p.last[ch] = max(p.last[ch], m.Seq)
	p.mu.Unlock()
}

// lastSeqs returns the last seq published on each channel.
func (p *publisher) lastSeqs() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]uint64, len(p.last))
	for k, v := range p.last {
		out[k] = v
	}
	return out
}
