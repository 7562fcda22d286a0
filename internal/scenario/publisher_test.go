package scenario

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/broker"
)

// publisher writes to the shared broker at a steady rate, round robin over
// its channels, as another service publishing through Redis would. Each of
// its workers owns a fixed share of the channels, so the seqs of one
// channel are assigned in the order they are recorded.
type publisher struct {
	b        broker.Broker
	channels []string
	rate     int // messages per second, all channels together

	cancel context.CancelFunc
	wg     sync.WaitGroup
	sent   atomic.Uint64
	errs   atomic.Uint64

	mu      sync.Mutex
	last    map[string]uint64 // newest seq per channel
	lastErr error
}

const publishWorkers = 4

func startPublisher(b broker.Broker, channels []string, rate int) *publisher {
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{b: b, channels: channels, rate: rate, cancel: cancel, last: make(map[string]uint64)}
	for w := range publishWorkers {
		var mine []string
		for i, ch := range channels {
			if i%publishWorkers == w {
				mine = append(mine, ch)
			}
		}
		if len(mine) == 0 {
			continue
		}
		p.wg.Add(1)
		go p.run(ctx, mine, float64(rate)*float64(len(mine))/float64(len(channels)))
	}
	return p
}

// run publishes at rate per second on channels: every tick it catches up
// with rate × elapsed (bounded, so a stall does not turn into a burst
// larger than one second's worth).
func (p *publisher) run(ctx context.Context, channels []string, rate float64) {
	defer p.wg.Done()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var n int
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int(rate * time.Since(start).Seconds())
		if due-n > int(rate) {
			n = due - int(rate)
		}
		for ; n < due && ctx.Err() == nil; n++ {
			ch := channels[n%len(channels)]
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			m, err := p.b.Publish(pctx, ch, []byte(`{"n":`+strconv.Itoa(n)+`}`))
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					p.errs.Add(1)
					p.mu.Lock()
					p.lastErr = err
					p.mu.Unlock()
				}
				continue
			}
			p.sent.Add(1)
			p.mu.Lock()
			p.last[ch] = max(p.last[ch], m.Seq)
			p.mu.Unlock()
		}
	}
}

// stop ends publishing and returns the newest seq of every channel.
func (p *publisher) stop() map[string]uint64 {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]uint64, len(p.last))
	for ch, s := range p.last {
		out[ch] = s
	}
	return out
}
