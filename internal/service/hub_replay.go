package service

import (
	"context"
	"fmt"

	"github.com/baton-rt/baton/internal/broker"
)

// ReplaySubscriber is a Subscriber whose outbound queue a replay can wait
// on. A replay may be far longer than the queue: the hub hands it over a
// window at a time and waits for the client to read in between, rather
// than trip the subscriber's overflow rule (a client asking for history it
// may have is not a slow consumer). Live messages get no such wait.
type ReplaySubscriber interface {
	Subscriber
	// WaitRoom blocks until the outbound queue has room for the first of
	// msgs, leaving room for the connection's other traffic, and returns
	// how many of msgs, from the front, may be delivered now (at least
	// one). It fails once ctx is done or the subscriber is closed. The
	// hub calls it without holding any lock, and then delivers that many
	// through Deliver.
	WaitRoom(ctx context.Context, msgs []broker.Message) (int, error)
}

// replayWindow implements ReplaySubscriber.WaitRoom for an outbound queue
// bounded by maxItems and maxBytes where a message counts size(msg) bytes.
// A replay keeps half of the queue free for the connection's other traffic
// (acks, pongs, other channels' messages) and hands over a quarter of it at
// a time, so the writer has the next window queued while it writes one.
// wait blocks until items more items of bytes bytes would fit.
func replayWindow(ctx context.Context, msgs []broker.Message, maxItems, maxBytes int,
	size func(broker.Message) int, wait func(ctx context.Context, items, bytes int) error) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	items, bytes := max(1, maxItems/4), max(1, maxBytes/4)
	// A message larger than the window waits for room of its own size.
	if err := wait(ctx, items+maxItems/2, max(bytes, size(msgs[0]))+maxBytes/2); err != nil {
		return 0, err
	}
	n, total := 0, 0
	for n < len(msgs) && n < items {
		s := size(msgs[n])
		if n > 0 && total+s > bytes {
			break
		}
		total += s
		n++
	}
	return n, nil
}

// replay delivers history after since to m, then the live messages m
// buffered meanwhile, and switches m to live. Messages fanned out before m
// joined are older than the history read that follows, so history plus the
// pending buffer cover every seq; m.last drops the overlap.
//
// Order: the OnReady ack, then history, then pending, then live. History
// is read opts.ReplayPage messages at a time, each page delivered before
// the next is read, so that a replay holds one page, not the whole
// history, however slowly the client reads; a message trimmed from history
// before its page is read fails the replay with broker.ErrHistoryGone, and
// a stream that restarted (another epoch) or went back with
// errStreamRestarted, rather than skip or mix seqs. A first read that
// finds the stream restarted from where the channel stood (before the
// fan-out showed it) also ends the channel as restarted. History and
// pending go out in windows when m's subscriber is a ReplaySubscriber; c.mu is
// released while it waits for room, and meanwhile the fan-out keeps
// buffering into m.pending (bounded, with the overflow → read-again rule).
// m.last and m.pending are only touched under c.mu, by this goroutine or by
// the fan-out, which leaves m.last alone while m.replaying (except to reset
// it when the epoch changes, which also sets m.overflow).
func (h *Hub) replay(ctx context.Context, c *hubChannel, m *member, opts SubscribeOptions) (broker.Position, error) {
	rs, _ := m.s.(ReplaySubscriber)
	page := opts.ReplayPage
	if page <= 0 {
		page = defaultReplayPage
	}
	// Where the channel's stream stood for the hub before the first read:
	// a first read below it, or of another epoch, finds the stream
	// restarted since.
	c.mu.Lock()
	known := broker.Position{Seq: c.last, Epoch: c.epoch}
	c.mu.Unlock()
	var first broker.Position
	since, from := opts.Since, opts.Since
	for round := 0; round < maxCatchUpRounds; round++ {
		// Read up to where the stream stood at the round's first read;
		// what was published since is in m.pending.
		var until broker.Position
		for read := 0; ; read++ {
			msgs, pos, err := h.b.History(ctx, c.name, from, page)
			if err != nil {
				return broker.Position{}, fmt.Errorf("channel %q: history after %d: %w", c.name, from, err)
			}
			if round == 0 && read == 0 {
				if pos.Seq < known.Seq || (known.Epoch != "" && pos.Epoch != known.Epoch) {
					// The stream restarted before the hub's fan-out
					// showed it: since may be of the old one.
					h.restarted(c)
					return broker.Position{}, fmt.Errorf("channel %q: history after %d: %w", c.name, from, errStreamRestarted)
				}
				if since > pos.Seq {
					return broker.Position{}, fmt.Errorf("channel %q: since %d, newest seq %d: %w", c.name, since, pos.Seq, ErrSinceAhead)
				}
				first = pos
				c.mu.Lock()
				if err := c.replayingLocked(m); err != nil {
					c.mu.Unlock()
					return broker.Position{}, err
				}
				if opts.OnReady != nil {
					opts.OnReady(first)
				}
				c.mu.Unlock()
			} else if pos.Seq < from || (first.Epoch != "" && pos.Epoch != first.Epoch) {
				// m has seqs up to from of a stream that is no longer there.
				return broker.Position{}, fmt.Errorf("channel %q: history after %d: %w", c.name, from, errStreamRestarted)
			}
			if read == 0 {
				until = pos
			}
			if len(msgs) == 0 {
				break
			}
			overflow, err := h.feed(ctx, c, m, rs, msgs)
			if err != nil {
				return broker.Position{}, err
			}
			from = msgs[len(msgs)-1].Seq
			if overflow || from >= until.Seq {
				break
			}
		}
		for {
			c.mu.Lock()
			if err := c.replayingLocked(m); err != nil {
				c.mu.Unlock()
				return broker.Position{}, err
			}
			if m.overflow { // read history again from what m has
				m.pending, m.overflow = nil, false
				from = m.last
				c.mu.Unlock()
				break
			}
			pending := m.pending
			if len(pending) == 0 {
				m.replaying = false
				c.mu.Unlock()
				return first, nil
			}
			m.pending = nil
			c.mu.Unlock()
			if _, err := h.feed(ctx, c, m, rs, pending); err != nil {
				return broker.Position{}, err
			}
		}
		h.rereads.Add(1)
	}
	return broker.Position{}, fmt.Errorf("channel %q: %w", c.name, ErrReplayBehind)
}

// defaultReplayPage is how many history messages a replay reads at a time
// when SubscribeOptions.ReplayPage is not set.
const defaultReplayPage = 64

// feed delivers msgs to the replaying member m, a window at a time when rs
// (m's subscriber as a ReplaySubscriber) is not nil, all at once otherwise.
// It stops early, without error, once m.overflow is set: the history must
// be read again anyway; overflow reports that.
func (h *Hub) feed(ctx context.Context, c *hubChannel, m *member, rs ReplaySubscriber, msgs []broker.Message) (overflow bool, err error) {
	for len(msgs) > 0 {
		n := len(msgs)
		if rs != nil {
			w, err := rs.WaitRoom(ctx, msgs)
			if err != nil {
				return false, fmt.Errorf("channel %q: replay: %w", c.name, err)
			}
			n = min(max(w, 1), n)
		}
		c.mu.Lock()
		if err := c.replayingLocked(m); err != nil {
			c.mu.Unlock()
			return false, err
		}
		if m.overflow {
			c.mu.Unlock()
			return true, nil
		}
		for _, msg := range msgs[:n] {
			m.deliver(msg)
		}
		c.mu.Unlock()
		msgs = msgs[n:]
	}
	return false, nil
}

// replayingLocked fails once m is no longer c's member (unsubscribed, or
// the channel stopped). c.mu is held.
func (c *hubChannel) replayingLocked(m *member) error {
	if c.stopped || c.members[m.s] != m {
		return fmt.Errorf("channel %q: subscription ended during replay: %w", c.name, broker.ErrClosed)
	}
	return nil
}
