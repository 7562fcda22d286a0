package service

import (
	"context"
	"time"

	"github.com/baton-rt/baton/internal/broker"
)

// collectWait bounds each wait of a connection's reader for its client's
// own traffic: for a writer that writes nothing (legacyConn.awaitWriter),
// and for the fan-out of the client's publishes (ownPublishes.catchUp).
const collectWait = time.Second

// maxAheadChannels bounds the channels a reader tracks in
// ownPublishes.ahead; a publish on one more first waits for the fan-out of
// the others.
const maxAheadChannels = 8

// published is the newest seq the client published on a channel.
type published struct {
	channel string
	seq     uint64
}

// ownPublishes is what a connection's reader keeps of the messages of its
// client's own publishes that the hub's fan-out may not have queued yet.
//
// A publish on a channel the client is subscribed to brings its ack,
// queued by the reader at once, and its message, queued by the hub's
// fan-out on its own goroutine, which may lag far behind (a busy machine,
// a broker's round trip). The reader stops reading a client whose queue
// is over half full until its writer has taken the queue; judging the
// queue alone, it would handle any number of publishes ahead of the
// fan-out, whose messages would then overflow the queue on their own
// once it caught up, and close as a slow consumer a client that reads all
// along. So the reader counts each publish's message from the publish on
// and, once queue and count would pass half the queue's bounds, first
// waits for the fan-out to have queued them (catchUp).
//
// Only the reader uses it, so it needs no lock.
type ownPublishes struct {
	ahead        []published
	items, bytes int // what the messages counted in ahead take in the queue
}

// note counts m, whose message takes size bytes in the queue. ctx is the
// connection's, for a catchUp on a channel one too many.
func (o *ownPublishes) note(ctx context.Context, h *Hub, m broker.Message, size int) {
	i := 0
	for i < len(o.ahead) && o.ahead[i].channel != m.Channel {
		i++
	}
	if i == len(o.ahead) {
		if i == maxAheadChannels {
			o.catchUp(ctx, h)
			i = 0
		}
		o.ahead = append(o.ahead, published{channel: m.Channel})
	}
	o.ahead[i].seq = m.Seq
	o.items++
	o.bytes += size
}

// catchUp waits until the fan-out has queued the messages counted (or
// found that the client no longer takes them), then forgets them. The
// wait is bounded by collectWait: the overflow rule decides after.
func (o *ownPublishes) catchUp(ctx context.Context, h *Hub) {
	ctx, cancel := context.WithTimeout(ctx, collectWait)
	for _, p := range o.ahead {
		if h.awaitFanout(ctx, p.channel, p.seq) != nil {
			break
		}
	}
	cancel()
	clear(o.ahead)
	o.ahead = o.ahead[:0]
	o.items, o.bytes = 0, 0
}
