package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
)

// errDropped is the overflow rule's answer under drop_newest: the message
// was discarded and counted, the client kept. It is a session.ErrQueueFull.
//
// drop_newest drops only what the client can see missing: a channel
// message with a seq (a gap in the channel's seqs). Anything else that
// does not fit, a message without seq or a custom event, closes the
// client as under disconnect; and a client's answers to its own requests
// (legacy acks, errors and pongs; Socket.IO acks, see eio.Conn.SetAnswers)
// are queued past the bound, by a little (answerSlack), so that a dropped
// answer never leaves a request hanging. Past that slack the client is
// closed as slow.
var errDropped = fmt.Errorf("%w: message dropped (edge.overflow drop_newest)", session.ErrQueueFull)

// outbox is what a connection's Sink.Deliver goes through: it keeps each
// subscribe's ack ahead of that subscription's messages (see the package
// documentation) and hands everything else to the protocol's push.
type outbox struct {
	push     func(upstream.Event) error // queues one event; called under mu
	overflow func(upstream.Event) error // applies the overflow rule to a held message
	// maxHeld and maxHeldBytes bound the messages held for pending
	// subscribes as the queue they go to is bounded (see heldSize).
	maxHeld, maxHeldBytes int

	mu sync.Mutex
	// pending holds the channels whose ack is not queued yet; nil while
	// none is (most of a session's life), so an idle session holds no map.
	pending map[string][]upstream.Event
	// held and heldBytes count the messages in pending and their size; they
	// change under mu, and Pace's first look (awaitHeld) reads them
	// without the lock.
	held, heldBytes atomic.Int64
	// skipped maps each pending channel some of whose messages did not
	// fit the bound on those held (drop_newest dropped them) to the
	// newest such seq, so that a replay they ended is known to be over
	// (end, passLocked); nil while none is.
	skipped map[string]uint64
	// released, while a backend reader waits in awaitHeld, is closed (and
	// reset) when a subscribe ends and its held messages go on.
	released chan struct{}
	// passed maps each channel whose subscribe is pending but whose held
	// messages went on ahead of its ack (awaitHeld: a backend that
	// replays before it acks) to the newest seq queued since; nil while
	// none is.
	passed map[string]uint64
	// replays maps each channel being replayed after its subscribe's ack
	// to the ack's seq, the replay's last; nil while none is. replaying
	// says it is not nil, for pace's first look.
	replays   map[string]uint64
	replaying atomic.Bool
	// own tracks the client's publishes whose messages may still come
	// (own.go); ownWake, while the reader waits for them in awaitOwn, is
	// closed (and reset) when one arrives. aheadItems and aheadBytes are
	// the reader's own: what those messages count against the queue.
	own                    []ownPublish
	ownWake                chan struct{}
	aheadItems, aheadBytes int
	// unechoed are the channels whose publishes' messages did not come
	// within a wait (awaitOwn): the backend does not send a client's own
	// publishes back to it, and they are no longer counted, unless the
	// message comes after all (sawOwnLocked). Past maxUnechoed channels,
	// no publish is (noEcho, the reader's own).
	unechoed []unechoedChannel
	noEcho   bool
}

// pace is the outbox's part of a sink's Pace: it waits while too much is
// held (awaitHeld), then says whether the reader should wait for the
// client to take its queue: only while a replay is under way. A replay
// is the client's own asking, paced as the reference services pace it;
// live messages get no such wait, for holding a backend's connection back
// would let the backend's overflow rule, not the edge's, decide for a
// client that does not read.
func (o *outbox) pace() bool {
	o.awaitHeld()
	return o.replaying.Load()
}

// awaitHeld is the outbox's part of a sink's Pace: while the messages held
// for pending subscribes pass half of either bound (a replay that came
// right behind its subscribe's ack, before the session could queue the
// ack), the backend reader waits, at most collectWait, for a subscribe to
// end. A backend that replays before it acks never ends it this way: once
// the wait runs out, the subscribes still pending give up the ack's
// place ahead of their messages (passLocked), as that backend would have
// them reach a client talking to it directly, rather than close the
// client when the bound is reached.
func (o *outbox) awaitHeld() {
	if !o.heldOverHalf() {
		return // most of the time: no lock taken
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	timer := time.NewTimer(collectWait)
	defer timer.Stop()
	for o.heldOverHalf() {
		if o.released == nil {
			o.released = make(chan struct{})
		}
		released := o.released
		o.mu.Unlock()
		select {
		case <-released:
			o.mu.Lock()
		case <-timer.C:
			o.mu.Lock()
			if o.heldOverHalf() { // not if a subscribe ended just as time ran out
				o.passLocked()
			}
			return
		}
	}
}

// heldOverHalf reports whether the messages held are over half of either
// bound.
func (o *outbox) heldOverHalf() bool {
	return o.held.Load() > int64(o.maxHeld/2) || o.heldBytes.Load() > int64(o.maxHeldBytes/2)
}

// heldSize is what a held message counts against maxHeldBytes: what it
// counts against the queue.
func heldSize(ev upstream.Event) int64 { return int64(messageSize(ev.Channel, ev.Data)) }

// unholdLocked takes held, the messages of a subscribe that ended or
// passed, off the counts. o.mu is held.
func (o *outbox) unholdLocked(held []upstream.Event) {
	var size int64
	for _, ev := range held {
		size += heldSize(ev)
	}
	o.held.Add(-int64(len(held)))
	o.heldBytes.Add(-size)
}

// passLocked queues the messages held for every pending subscribe and
// lets the later ones through until the subscribe ends: its ack comes
// after them. Meanwhile the subscribe counts as a replay (pace), so the
// backend reader goes only as fast as the client takes its queue. o.mu is
// held.
func (o *outbox) passLocked() {
	if o.passed == nil {
		o.passed = make(map[string]uint64, len(o.pending))
	}
	if o.replays == nil {
		o.replays = make(map[string]uint64, len(o.pending))
	}
	for channel, held := range o.pending {
		var last uint64
		if len(held) > 0 {
			last = held[len(held)-1].Seq
		}
		o.passed[channel] = max(last, o.skipped[channel])
		o.replays[channel] = math.MaxUint64 // until the ack says how far
		o.replaying.Store(true)
		o.unholdLocked(held)
		for _, ev := range held {
			if err := o.push(ev); err != nil && !errors.Is(err, errDropped) {
				break // the client is being disconnected
			}
		}
	}
	o.pending, o.skipped = nil, nil
}

func newOutbox(lim config.Queue, push func(upstream.Event) error, overflow func(upstream.Event) error) *outbox {
	return &outbox{push: push, overflow: overflow, maxHeld: lim.Messages, maxHeldBytes: lim.Bytes}
}

// deliver queues ev, or holds it while its channel's subscribe is pending.
// It never blocks.
func (o *outbox) deliver(ev upstream.Event) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.replays != nil {
		o.replayed(ev)
	}
	if len(o.own) > 0 || len(o.unechoed) > 0 {
		o.sawOwnLocked(ev)
	}
	if ev.Kind == upstream.KindMessage {
		if o.passed != nil {
			if last, ok := o.passed[ev.Channel]; ok && ev.Seq > last {
				o.passed[ev.Channel] = ev.Seq
			}
		}
		if held, ok := o.pending[ev.Channel]; ok {
			size := heldSize(ev)
			if o.held.Load() >= int64(o.maxHeld) || o.heldBytes.Load()+size > int64(o.maxHeldBytes) {
				if ev.Seq > o.skipped[ev.Channel] {
					if o.skipped == nil {
						o.skipped = make(map[string]uint64, 1)
					}
					o.skipped[ev.Channel] = ev.Seq
				}
				return o.overflow(ev)
			}
			o.pending[ev.Channel] = append(held, ev.Clone()) // ev's bytes are lent
			o.held.Add(1)
			o.heldBytes.Add(size)
			return nil
		}
	}
	return o.push(ev)
}

// replayed ends ev's channel's replay if ev is its last message, or the
// subscription's loss. o.mu is held.
func (o *outbox) replayed(ev upstream.Event) {
	if to, ok := o.replays[ev.Channel]; ok && (ev.Kind == upstream.KindLost || ev.Kind == upstream.KindMessage && ev.Seq >= to) {
		o.endReplayLocked(ev.Channel)
	}
}

// unsubscribed ends channel's replay, if one is under way: the session no
// longer delivers the channel, so the replay's last message never comes.
func (o *outbox) unsubscribed(channel string) {
	o.mu.Lock()
	o.endReplayLocked(channel)
	o.mu.Unlock()
}

// endReplayLocked forgets channel's replay. o.mu is held.
func (o *outbox) endReplayLocked(channel string) {
	delete(o.replays, channel)
	if len(o.replays) == 0 {
		o.replays = nil
		o.replaying.Store(false)
	}
}

// begin marks channel's subscribe as pending: its messages are held.
func (o *outbox) begin(channel string) {
	o.mu.Lock()
	if o.pending == nil {
		o.pending = make(map[string][]upstream.Event, 1)
	}
	if _, ok := o.pending[channel]; !ok {
		o.pending[channel] = nil
	}
	o.mu.Unlock()
}

// end queues the answer (ack or error, by answer, called under mu) and
// then, if keep, the messages held meanwhile (see keepsHeld). replayTo is
// the seq up to which the ack said a replay follows (0: none); the replay
// lasts until a message of the channel with that seq or a later one is
// delivered (or was held).
func (o *outbox) end(channel string, keep bool, replayTo uint64, answer func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	held, skipped := o.pending[channel], o.skipped[channel]
	delete(o.pending, channel)
	if len(o.pending) == 0 {
		o.pending, o.skipped = nil, nil // the maps go with the last pending subscribe
	} else {
		delete(o.skipped, channel)
	}
	o.unholdLocked(held)
	passedTo, passed := o.passed[channel]
	if passed {
		// Its messages went ahead of this answer (passLocked): what is
		// left of its replay, if anything, is judged below as for any.
		delete(o.passed, channel)
		if len(o.passed) == 0 {
			o.passed = nil
		}
		o.endReplayLocked(channel)
	}
	if o.released != nil {
		close(o.released)
		o.released = nil
	}
	answer()
	if !keep {
		return
	}
	last := max(passedTo, skipped) // the replay got that far, dropped or not
	if len(held) > 0 {
		last = max(last, held[len(held)-1].Seq)
	}
	if replayTo > 0 && last < replayTo {
		if o.replays == nil {
			o.replays = make(map[string]uint64, 1)
		}
		o.replays[channel] = replayTo
		o.replaying.Store(true)
	}
	for _, ev := range held {
		// Under drop_newest a dropped message leaves the client up: the
		// later ones may still fit, and each dropped one is counted.
		if err := o.push(ev); err != nil && !errors.Is(err, errDropped) {
			return // the client is being disconnected
		}
	}
}

// subscribe is a client's subscribe to channel through sess, between begin
// and end. One without since that the session carried over to a
// re-attach, and that the new backend refused the since of the messages
// held for it (session.ErrCarriedSinceGone), starts over without since
// if the client has not seen them (startOver): it asked for no history.
func (o *outbox) subscribe(ctx context.Context, sess *session.Session, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	for {
		pos, err := sess.Subscribe(ctx, channel, since, hasSince)
		if !errors.Is(err, session.ErrCarriedSinceGone) || !o.startOver(channel) {
			return pos, err
		}
	}
}

// startOver drops the messages held for channel's pending subscribe and
// reports whether it did. It does not when they already went on to the
// client (passLocked, or the end of another subscribe of the channel):
// the client would see them followed by a jump to where the new start
// stands.
func (o *outbox) startOver(channel string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	held, pending := o.pending[channel]
	if _, passed := o.passed[channel]; passed || !pending {
		return false
	}
	o.unholdLocked(held)
	o.pending[channel] = nil
	delete(o.skipped, channel)
	if o.released != nil {
		close(o.released)
		o.released = nil
	}
	return true
}

// keepsHeld says whether the messages held for a subscribe that ended with
// err go to the client: when it succeeded, and when the session held the
// channel already (a repeated subscribe), for they are then the live
// subscription's own, already counted as delivered. After any other
// failure the client does not hold the channel.
func keepsHeld(err error) bool { return err == nil || errors.Is(err, session.ErrAlreadySubscribed) }

// lostMessage reads the JSON string of a KindLost event.
func lostMessage(data []byte) string {
	var s string
	if json.Unmarshal(data, &s) != nil {
		return string(data)
	}
	return s
}

// droppable says whether drop_newest may drop ev (see errDropped).
func droppable(ev upstream.Event) bool { return ev.Kind == upstream.KindMessage && ev.Seq > 0 }

// replayTo is the seq up to which a subscribe that ended with err and pos
// replays history after since (see outbox.end): the ack's seq, when
// the client asked for history and there is some; else 0.
func replayTo(err error, since uint64, hasSince bool, pos upstream.Position) uint64 {
	if err != nil || !hasSince || !pos.HasSeq || pos.Seq <= since {
		return 0
	}
	return pos.Seq
}
