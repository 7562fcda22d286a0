package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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
	maxHeld  int

	mu sync.Mutex
	// pending holds the channels whose ack is not queued yet; nil while
	// none is (most of a session's life), so an idle session holds no map.
	pending map[string][]upstream.Event
	held    int
}

func newOutbox(maxHeld int, push func(upstream.Event) error, overflow func(upstream.Event) error) *outbox {
	return &outbox{push: push, overflow: overflow, maxHeld: maxHeld}
}

// deliver queues ev, or holds it while its channel's subscribe is pending.
// It never blocks.
func (o *outbox) deliver(ev upstream.Event) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ev.Kind == upstream.KindMessage {
		if held, ok := o.pending[ev.Channel]; ok {
			if o.held >= o.maxHeld {
				return o.overflow(ev)
			}
			o.pending[ev.Channel] = append(held, ev.Clone()) // ev's bytes are lent
			o.held++
			return nil
		}
	}
	return o.push(ev)
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
// then, if keep, the messages held meanwhile (see keepsHeld).
func (o *outbox) end(channel string, keep bool, answer func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	held := o.pending[channel]
	delete(o.pending, channel)
	if len(o.pending) == 0 {
		o.pending = nil // the map goes with the last pending subscribe
	}
	o.held -= len(held)
	answer()
	if !keep {
		return
	}
	for _, ev := range held {
		// Under drop_newest a dropped message leaves the client up: the
		// later ones may still fit, and each dropped one is counted.
		if err := o.push(ev); err != nil && !errors.Is(err, errDropped) {
			return // the client is being disconnected
		}
	}
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
