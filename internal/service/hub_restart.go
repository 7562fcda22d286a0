package service

import (
	"fmt"

	"github.com/baton-rt/baton/internal/broker"
)

// A broker that loses a channel's stream (Redis restarted without
// persistence, flushed, its keys evicted or expired), or finds it rolled
// back and starts it afresh (broker.ErrStreamReset), starts it again in a
// new epoch, with seqs from 1. Neither protocol carries the epoch, so a
// member following the old stream, or a client resuming with a since from
// it, would take the new seqs for ones it has seen. The hub does not let
// that pass silently: the channel's members lose it (Lost, with
// errStreamRestarted, which matches broker.ErrHistoryGone), and a later
// subscribe with a since no greater than the newest seq of the old stream
// is refused the same way, since that since may come from it. The latter
// is remembered for maxRestarts channels; past that, the oldest restart
// is forgotten.

// errStreamRestarted: the broker lost the channel's stream; seqs started
// over.
var errStreamRestarted = fmt.Errorf("the channel's stream restarted and its seqs started over: %w", broker.ErrHistoryGone)

// maxRestarts bounds the restarts the hub remembers.
const maxRestarts = 4096

// restarted ends channel c, whose stream restarted, and remembers where
// the old stream stood.
func (h *Hub) restarted(c *hubChannel) {
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	h.mu.Lock()
	if h.restarts == nil {
		h.restarts = make(map[string]uint64)
	}
	if _, ok := h.restarts[c.name]; !ok {
		h.restartOrder = append(h.restartOrder, c.name)
		if len(h.restartOrder) > maxRestarts {
			delete(h.restarts, h.restartOrder[0])
			h.restartOrder = h.restartOrder[1:]
		}
	}
	h.restarts[c.name] = max(h.restarts[c.name], last)
	h.mu.Unlock()
	h.lose(c, fmt.Errorf("channel %q: %w", c.name, errStreamRestarted))
}

// checkSinceLocked refuses a since that may belong to a stream of channel that
// restarted. h.mu is held.
func (h *Hub) checkSinceLocked(channel string, since uint64) error {
	if old, ok := h.restarts[channel]; ok && since > 0 && since <= old {
		return fmt.Errorf("channel %q, since %d: %w", channel, since, errStreamRestarted)
	}
	return nil
}
