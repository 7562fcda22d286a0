package handover

import (
	"context"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/sleep"
)

// pacerSlack: a start due less than this ahead goes at once. A timer
// cannot sleep that briefly (at 100,000 moves/s a 10 µs sleep costs a
// timer and a scheduler round, far longer, and Each starts one move at a
// time, so it capped the rate at a few thousand). The schedule still
// advances one interval per start, so the rate holds over any window
// longer than the slack; a burst is at most the slack's worth of starts.
const pacerSlack = time.Millisecond

// Pacer spaces out attaches: at most a rate of starts per second, evenly
// spaced (no burst beyond pacerSlack's worth), and at most a number running at once. It is safe
// for concurrent use.
type Pacer struct {
	interval time.Duration
	slots    chan struct{} // one token per running attach

	mu   sync.Mutex
	next time.Time // earliest start of the next attach
}

// NewPacer returns a pacer for perSecond starts per second and concurrency
// running at once. Zero or negative values take the config defaults.
func NewPacer(perSecond, concurrency int) *Pacer {
	if perSecond <= 0 {
		perSecond = config.DefaultMovesPerSecond
	}
	if concurrency <= 0 {
		concurrency = config.DefaultHandoverConcurrency
	}
	return &Pacer{interval: time.Second / time.Duration(perSecond), slots: make(chan struct{}, concurrency)}
}

// Acquire waits for a free slot and then for the next start time. On
// success the caller must call Release when its attach has ended.
func (p *Pacer) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err // a free slot must not win the select over an ended ctx
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now // idle time is not saved up for a burst
	}
	start := p.next
	p.next = p.next.Add(p.interval)
	p.mu.Unlock()
	if wait := time.Until(start); wait > pacerSlack {
		if err := sleep.For(ctx, wait); err != nil {
			<-p.slots
			return err
		}
	}
	return nil
}

// Release frees the slot taken by Acquire.
func (p *Pacer) Release() { <-p.slots }

// Each runs fn(ctx, i) for i in [0, n), paced, and waits for all of them.
// When ctx ends, the calls not started yet are skipped and ctx's error is
// returned.
//
// A call runs on a worker that, once done, takes the next start that comes
// while it is free, rather than on a goroutine of its own: a move grows
// its goroutine's stack through the dial and the handshakes (7 % of the
// gateway's CPU in a handover went to copying stacks), and a worker keeps
// the grown one. A start that finds no worker free gets a new one, so the
// workers never outnumber the slots by more than the few that are between
// their Release and taking the next start.
func (p *Pacer) Each(ctx context.Context, n int, fn func(ctx context.Context, i int)) error {
	var wg sync.WaitGroup
	free := make(chan int) // unbuffered: taken only by a free worker
	defer func() {
		close(free)
		wg.Wait()
	}()
	work := func(i int) {
		defer wg.Done()
		for ok := true; ok; i, ok = <-free {
			fn(ctx, i)
			p.Release()
		}
	}
	for i := range n {
		if err := p.Acquire(ctx); err != nil {
			return err
		}
		select {
		case free <- i:
		default:
			wg.Add(1)
			go work(i)
		}
	}
	return nil
}
