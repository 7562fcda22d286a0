package edge

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/upstream"
)

// A client's own publishes, counted against its queue before their
// messages reach it.
//
// The reader of a client that writes many requests at once waits while
// the client's queue is over half full (legacyConn.awaitWriter,
// eio.Conn.awaitCollect), leaving the other half for what the requests
// handled so far still bring. A publish on a channel the client is
// subscribed to brings its ack and, later, its message: the ack comes
// back from the backend with the publish's answer, the message from the
// backend's fan-out, which may lag far behind. A reader that judged the
// queue alone would read on while hundreds of its client's own messages
// were still on their way, and those would overflow the free half on
// their own. So the reader counts each publish's message from the
// publish on, and once queue and count would pass half the queue's
// bounds, it first waits for every publish to be answered and for the
// messages of those on channels the session holds to be delivered, then
// forgets them (catchUpOwn).

// maxOwnChannels bounds the channels an outbox tracks the client's own
// publishes on; a publish on one more first catches up with the others.
const maxOwnChannels = 8

// maxUnechoed bounds the channels an outbox remembers as not echoed
// (outbox.unechoed); past it, it counts no publish of the client, on any
// channel, for the rest of the connection.
const maxUnechoed = 16

// ownPublish is a channel the client published on since its reader last
// caught up: the newest seq its publishes were answered with, and the
// newest seq delivered on it since.
type ownPublish struct {
	channel    string
	want, seen uint64
}

// notePublish counts a publish on channel, whose message is about size
// bytes in the queue, among the messages the client's own publishes may
// still bring, after catching up (catchUp: the connection's catchUpOwn)
// when queue (the client's queue's length: its items, its bytes) and
// those would pass half lim, or when channel would be one too many. It
// returns the publish's entry, for ownAnsweredLocked, or -1 when the
// publish is not counted: on a channel whose backend does not echo a
// client's publishes (see outbox.unechoed). Run by the reader, before it
// sends the publish, with no lock held.
func (o *outbox) notePublish(channel string, size int, lim config.Queue, queue func() (int, int), catchUp func()) int {
	if o.noEcho {
		return -1
	}
	o.mu.Lock()
	unechoed := o.unechoedIndexLocked(channel) >= 0
	o.mu.Unlock()
	if unechoed {
		return -1
	}
	if o.aheadItems > 0 {
		items, bytes := queue()
		if items+o.aheadItems+1 > lim.Messages/2 || bytes+o.aheadBytes+size > lim.Bytes/2 {
			catchUp()
		}
	}
	o.mu.Lock()
	i := o.ownIndexLocked(channel)
	if i < 0 && len(o.own) == maxOwnChannels {
		o.mu.Unlock()
		catchUp()
		o.mu.Lock()
	}
	if i < 0 {
		i = len(o.own)
		o.own = append(o.own, ownPublish{channel: channel})
	}
	o.mu.Unlock()
	o.aheadItems++
	o.aheadBytes += size
	return i
}

// ownIndexLocked is channel's entry in own, or -1. o.mu is held.
func (o *outbox) ownIndexLocked(channel string) int {
	for i := range o.own {
		if o.own[i].channel == channel {
			return i
		}
	}
	return -1
}

// ownAnsweredLocked records that the publish notePublish gave entry i,
// on channel, was answered with seq. o.mu is held.
func (o *outbox) ownAnsweredLocked(i int, channel string, seq uint64) {
	// A publish answered after its reader gave up waiting (the connection
	// is closing) may find its entry forgotten.
	if i >= 0 && i < len(o.own) && o.own[i].channel == channel && seq > o.own[i].want {
		o.own[i].want = seq
	}
}

// unechoedChannel is a channel taken for one whose backend does not echo
// the client's publishes: want is the seq of the client's publish whose
// message had not come when the reader stopped waiting for it.
type unechoedChannel struct {
	channel string
	want    uint64
}

// unechoedIndexLocked is channel's entry in unechoed, or -1. o.mu is held.
func (o *outbox) unechoedIndexLocked(channel string) int {
	return slices.IndexFunc(o.unechoed, func(u unechoedChannel) bool { return u.channel == channel })
}

// sawOwnLocked notes ev in the entry of its channel, if any: a message's
// seq, or the channel's loss, after which nothing more comes. The message
// an unechoed channel's entry waited for, come late (a fan-out that lagged
// more than the wait), shows that the channel does echo: it is counted
// again. Only that seq tells: on a channel that does not echo, the other
// users' messages still come. o.mu is held.
func (o *outbox) sawOwnLocked(ev upstream.Event) {
	if len(o.unechoed) > 0 && ev.Kind == upstream.KindMessage {
		if i := o.unechoedIndexLocked(ev.Channel); i >= 0 && o.unechoed[i].want == ev.Seq {
			o.unechoed = slices.Delete(o.unechoed, i, i+1)
		}
	}
	i := o.ownIndexLocked(ev.Channel)
	if i < 0 {
		return
	}
	p := &o.own[i]
	switch {
	case ev.Kind == upstream.KindLost:
		p.seen = math.MaxUint64
	case ev.Kind == upstream.KindMessage && ev.Seq > p.seen:
		p.seen = ev.Seq
	default:
		return
	}
	if p.seen >= p.want && o.ownWake != nil {
		close(o.ownWake)
		o.ownWake = nil
	}
}

// owedLocked reports whether a tracked message has yet to be delivered.
// o.mu is held.
func (o *outbox) owedLocked() bool {
	for _, p := range o.own {
		if p.seen < p.want {
			return true
		}
	}
	return false
}

// awaitOwn waits until the messages of the client's publishes, all
// answered (the caller waited for them), on the channels that held
// reports the session still holds have been delivered, for at most
// collectWait (a backend that lost one is not waited for longer), or
// until stop is done; then it forgets them. held also gives the
// channel's position (Session.Subscribed): a publish at or below it,
// made before the channel's subscribe, brings no message. Run by the
// reader.
func (o *outbox) awaitOwn(stop context.Context, held func(channel string) (last uint64, ok bool)) {
	// Entries are added and removed by the reader only: it reads their
	// channels without o.mu, which must not be held while held takes the
	// session's lock.
	var past [maxOwnChannels]uint64
	for i := range o.own {
		if last, ok := held(o.own[i].channel); ok {
			past[i] = last
		} else {
			past[i] = math.MaxUint64 // nothing comes
		}
	}
	o.mu.Lock()
	for i := range o.own {
		o.own[i].seen = max(o.own[i].seen, past[i])
	}
	if o.owedLocked() && !o.waitOwnLocked(stop) {
		// The wait ran out: what is still owed does not come, on this
		// backend, for this client's publishes.
		for _, p := range o.own {
			if p.seen < p.want && !o.noEcho {
				o.unechoed = append(o.unechoed, unechoedChannel{p.channel, p.want})
				o.noEcho = len(o.unechoed) > maxUnechoed
			}
		}
	}
	clear(o.own)
	o.own, o.ownWake = o.own[:0], nil
	o.mu.Unlock()
	o.aheadItems, o.aheadBytes = 0, 0
}

// waitOwnLocked waits, at most collectWait, while a tracked message has
// yet to be delivered, or until stop is done. It reports false when the
// wait ran out. o.mu is held, and released while waiting.
func (o *outbox) waitOwnLocked(stop context.Context) bool {
	timer := time.NewTimer(collectWait)
	defer timer.Stop()
	for o.owedLocked() {
		if o.ownWake == nil {
			o.ownWake = make(chan struct{})
		}
		wake := o.ownWake
		o.mu.Unlock()
		select {
		case <-wake:
		case <-stop.Done():
			o.mu.Lock()
			return true
		case <-timer.C:
			o.mu.Lock()
			return false
		}
		o.mu.Lock()
	}
	return true
}

// awaitTokens waits until every token of tokens is free, or stop is done:
// then no publish is in flight.
func awaitTokens(tokens chan struct{}, stop <-chan struct{}) {
	if len(tokens) == 0 {
		return
	}
	held := 0
	defer func() {
		for ; held > 0; held-- {
			<-tokens
		}
	}()
	for held < cap(tokens) {
		select {
		case tokens <- struct{}{}:
			held++
		case <-stop:
			return
		}
	}
}
