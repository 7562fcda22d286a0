package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/sleep"
)

// run fans c's broker messages out until the subscription ends. A
// subscription closed for being slow is replaced and the gap filled from
// history (see resubscribe); any other failure, or a replacement that
// cannot be made in time, ends the channel with Lost.
func (h *Hub) run(c *hubChannel, sub broker.Subscription) {
	defer h.wg.Done()
	for {
		for msg := range sub.Messages() {
			if c.fanout(msg) {
				h.restarted(c)
				return
			}
		}
		if c.isStopped() {
			return
		}
		err := sub.Err()
		if errors.Is(err, broker.ErrStreamReset) {
			h.restarted(c) // the broker started the stream afresh
			return
		}
		if errors.Is(err, broker.ErrSlowSubscriber) {
			next, ferr := h.resubscribe(c)
			if ferr == nil {
				sub = next
				continue
			}
			if c.isStopped() {
				return
			}
			if errors.Is(ferr, errStreamRestarted) {
				h.restarted(c) // found while refilling the gap
				return
			}
			err = ferr
		}
		if err == nil {
			err = broker.ErrClosed
		}
		h.lose(c, err)
		return
	}
}

// resubscribeTimeout bounds one attempt to replace a channel's broker
// subscription closed as slow and to read the messages it missed;
// resubscribeGiveUp bounds all of them. Meanwhile the channel's members get
// nothing, so past it they lose the channel, as when the broker fails, and
// may subscribe again from their last seq, with channelStartTimeout's
// bound on that.
const (
	resubscribeTimeout = 5 * time.Second
	resubscribeGiveUp  = channelStartTimeout
)

// resubscribeBackoff is the pause after the first failed resubscribe
// attempt; it doubles after each to at most maxResubscribeBackoff.
const (
	resubscribeBackoff    = 50 * time.Millisecond
	maxResubscribeBackoff = 2 * time.Second
)

// resubscribe replaces c's slow broker subscription and delivers the
// messages it missed from history, so subscribers see no gap. An attempt
// that fails for a reason that may pass (the broker unreachable, or too
// slow to answer within h.resubscribeAttempt) is retried, backing off,
// until h.resubscribeBound has passed or c stops: its last member left, or
// the hub closed. A broker that closed, or history that no longer holds
// the missed messages, fails it at once.
func (h *Hub) resubscribe(c *hubChannel) (broker.Subscription, error) {
	h.resubscribes.Add(1)
	ctx, cancel := context.WithTimeout(c.ctx, h.resubscribeBound)
	defer cancel()
	pause := resubscribeBackoff
	for {
		sub, err := h.resubscribeOnce(ctx, c)
		if err == nil || errors.Is(err, broker.ErrClosed) || errors.Is(err, broker.ErrHistoryGone) ||
			errors.Is(err, ErrHubClosed) {
			return sub, err
		}
		if sleep.For(ctx, pause) != nil {
			return nil, err
		}
		pause = min(2*pause, maxResubscribeBackoff)
	}
}

// resubscribeOnce is one attempt of resubscribe, bounded by
// h.resubscribeAttempt within ctx.
func (h *Hub) resubscribeOnce(ctx context.Context, c *hubChannel) (broker.Subscription, error) {
	ctx, cancel := context.WithTimeout(ctx, h.resubscribeAttempt)
	defer cancel()
	sub, err := h.b.Subscribe(ctx, c.name)
	if err != nil {
		return nil, fmt.Errorf("channel %q: resubscribe: %w", c.name, err)
	}
	c.mu.Lock()
	from, stopped := c.last, c.stopped
	c.sub = sub
	c.mu.Unlock()
	if stopped {
		_ = sub.Close()
		return nil, ErrHubClosed
	}
	// The gap is read a page at a time, as a replay reads history, each
	// page fanned out before the next is read, up to where the stream
	// stood at the first read (sub has what came after): one read of a
	// deep history would hold all of it at once.
	var until uint64
	for read := 0; ; read++ {
		msgs, pos, err := h.b.History(ctx, c.name, from, defaultReplayPage)
		if err != nil {
			_ = sub.Close()
			return nil, fmt.Errorf("channel %q: history after %d: %w", c.name, from, err)
		}
		if read == 0 {
			until = pos.Seq
		}
		for _, msg := range msgs {
			if c.fanout(msg) {
				_ = sub.Close()
				return nil, fmt.Errorf("channel %q: %w", c.name, errStreamRestarted)
			}
		}
		if len(msgs) == 0 || msgs[len(msgs)-1].Seq >= until {
			return sub, nil
		}
		from = msgs[len(msgs)-1].Seq
	}
}

// lose ends channel c after an unrecoverable subscription failure.
func (h *Hub) lose(c *hubChannel, err error) {
	h.lost.Add(1)
	// Out of the map first, so new subscribers start a fresh channel; the
	// old one's reference count no longer matters.
	h.mu.Lock()
	if h.channels[c.name] == c {
		delete(h.channels, c.name)
	}
	h.mu.Unlock()

	c.mu.Lock()
	members := c.members
	c.members = make(map[Subscriber]*member)
	c.stopped = true
	c.wakeLocked()
	sub := c.sub
	// Members still replaying learn of the loss from their own Subscribe
	// call, which fails.
	for s, m := range members {
		if !m.replaying {
			s.Lost(c.name, err)
		}
	}
	c.mu.Unlock()
	c.cancel()
	if sub != nil {
		_ = sub.Close()
	}
}

// hubChannel is one channel's shared broker subscription and its members.
type hubChannel struct {
	name  string
	ready chan struct{} // closed once start finished; startErr tells how
	// startErr is written before ready is closed and only read after.
	startErr error
	refs     int // members + Subscribe calls in flight; guarded by Hub.mu
	// ctx is canceled once the channel stops (or is lost); it bounds
	// resubscribes, which nobody waits for once the members are gone.
	ctx    context.Context
	cancel context.CancelFunc

	maxPending int

	mu      sync.Mutex
	sub     broker.Subscription
	members map[Subscriber]*member
	last    uint64 // newest seq fanned out
	epoch   string
	stopped bool
	// advanced, while someone waits in awaitFanout, is closed (and reset)
	// when last moves or the channel stops.
	advanced chan struct{}
}

// fanout delivers msg to every live member and buffers it for replaying
// ones. Seqs at or below c.last were already fanned out (a resubscribe
// overlaps with history) and are dropped. It reports, delivering nothing,
// a message of a new epoch of a stream the channel had known: the broker
// lost the stream and its seqs start over (see Hub.restarted).
func (c *hubChannel) fanout(msg broker.Message) (restarted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg.Epoch != c.epoch {
		if c.epoch != "" {
			return true
		}
		c.epoch = msg.Epoch // the stream's first message
	}
	if msg.Seq <= c.last {
		return false
	}
	c.last = msg.Seq
	c.wakeLocked()
	var frames frameCache
	for _, m := range c.members {
		if m.replaying {
			if len(m.pending) < c.maxPending {
				m.pending = append(m.pending, msg)
			} else {
				m.overflow = true
			}
			continue
		}
		m.deliverLive(msg, &frames)
	}
	return false
}

// frameCache holds one message's frames during its fan-out, one per
// FrameEncoder; services use one encoder, so two slots are plenty and a
// third encoder simply encodes per member.
type frameCache struct {
	enc   [2]FrameEncoder
	frame [2][]byte
}

func (fc *frameCache) get(e FrameEncoder, msg broker.Message) []byte {
	for i := range fc.enc {
		switch fc.enc[i] {
		case e:
			return fc.frame[i]
		case nil:
			fc.enc[i], fc.frame[i] = e, e.EncodeFrame(msg)
			return fc.frame[i]
		}
	}
	return e.EncodeFrame(msg)
}

func (c *hubChannel) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// stop closes the broker subscription, and ends a resubscribe under way;
// run then returns.
func (c *hubChannel) stop() {
	c.mu.Lock()
	c.stopped = true
	c.wakeLocked()
	sub := c.sub
	c.mu.Unlock()
	c.cancel()
	if sub != nil {
		_ = sub.Close()
	}
}

// member is one subscriber's position in one channel.
type member struct {
	s         Subscriber
	fs        FrameSubscriber // s, when it is one; asserted once, not per message
	last      uint64          // newest seq delivered (or the since it started from)
	replaying bool            // history not yet delivered: live messages go to pending
	pending   []broker.Message
	overflow  bool // pending filled up; history must be read again
}

// deliverLive is deliver on the live fan-out, where FrameSubscribers get
// the frame shared through frames.
func (m *member) deliverLive(msg broker.Message, frames *frameCache) {
	if m.fs == nil {
		m.deliver(msg)
		return
	}
	if msg.Seq <= m.last {
		return
	}
	m.last = msg.Seq
	m.fs.DeliverFrame(msg, frames.get(m.fs.FrameEncoder(), msg))
}

func (m *member) deliver(msg broker.Message) {
	if msg.Seq <= m.last {
		return
	}
	m.last = msg.Seq
	m.s.Deliver(msg)
}

// wakeLocked releases the goroutines waiting in awaitFanout; c.mu is held.
func (c *hubChannel) wakeLocked() {
	if c.advanced != nil {
		close(c.advanced)
		c.advanced = nil
	}
}

// awaitFanout waits until channel's fan-out has handed its messages up to
// seq to the channel's live members, the channel has ended, or ctx is
// done. A channel without local subscribers has no fan-out to wait for.
// It is for a connection that publishes on a channel it is subscribed to
// and must know when its own messages have reached its queue.
func (h *Hub) awaitFanout(ctx context.Context, channel string, seq uint64) error {
	h.mu.Lock()
	c := h.channels[channel]
	h.mu.Unlock()
	if c == nil {
		return nil
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.startErr != nil {
		return nil
	}
	for {
		c.mu.Lock()
		if c.stopped || c.last >= seq {
			c.mu.Unlock()
			return nil
		}
		if c.advanced == nil {
			c.advanced = make(chan struct{})
		}
		advanced := c.advanced
		c.mu.Unlock()
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
