package edge

import (
	"errors"
	"slices"
	"testing"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
)

// TestOutboxHeldMessagesAfterAnAck checks what end does with the messages
// held during a subscribe when the queue refuses one: under drop_newest
// (errDropped) it goes on with the rest, under disconnect it stops.
func TestOutboxHeldMessagesAfterAnAck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse error
		want   []uint64
	}{
		{"drop_newest", errDropped, []uint64{1, 2, 3}},
		{"disconnect", session.ErrQueueFull, []uint64{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pushed []uint64
			answered := false
			push := func(ev upstream.Event) error {
				if ev.Kind == upstream.KindMessage {
					pushed = append(pushed, ev.Seq)
					if ev.Seq == 2 {
						return tc.refuse
					}
				}
				return nil
			}
			o := newOutbox(config.Queue{Messages: 10, Bytes: 1 << 20}, push, func(upstream.Event) error { return tc.refuse })
			o.begin("c")
			for seq := uint64(1); seq <= 3; seq++ {
				if err := o.deliver(upstream.Event{Kind: upstream.KindMessage, Channel: "c", Seq: seq}); err != nil {
					t.Fatalf("held message %d: %v", seq, err)
				}
			}
			if len(pushed) != 0 {
				t.Fatalf("messages %v went out before the ack", pushed)
			}
			o.end("c", true, 0, func() { answered = true })
			if !answered {
				t.Fatal("the ack was not queued")
			}
			if len(pushed) != len(tc.want) {
				t.Fatalf("pushed %v after the ack, want %v", pushed, tc.want)
			}
			for i := range pushed {
				if pushed[i] != tc.want[i] {
					t.Fatalf("pushed %v after the ack, want %v", pushed, tc.want)
				}
			}
		})
	}
	if !errors.Is(errDropped, session.ErrQueueFull) {
		t.Fatal("errDropped must be a session.ErrQueueFull, which the session counts")
	}
}

// TestOutboxHoldsNoMapWhenIdle: the map of pending subscribes exists only
// while one is pending, and a message for another channel passes.
func TestOutboxHoldsNoMapWhenIdle(t *testing.T) {
	var pushed []string
	o := newOutbox(config.Queue{Messages: 10, Bytes: 1 << 20}, func(ev upstream.Event) error {
		pushed = append(pushed, ev.Channel)
		return nil
	}, func(upstream.Event) error { return nil })
	if o.pending != nil {
		t.Fatal("a new outbox holds a map")
	}
	o.begin("a")
	o.begin("b")
	_ = o.deliver(upstream.Event{Kind: upstream.KindMessage, Channel: "other", Seq: 1})
	o.end("a", true, 0, func() {})
	if o.pending == nil {
		t.Fatal("the map went while b was pending")
	}
	o.end("b", false, 0, func() {})
	if o.pending != nil {
		t.Fatal("the map stayed after the last pending subscribe")
	}
	_ = o.deliver(upstream.Event{Kind: upstream.KindMessage, Channel: "a", Seq: 2})
	if want := []string{"other", "a"}; !slices.Equal(pushed, want) {
		t.Fatalf("pushed %v, want %v", pushed, want)
	}
}

// TestDroppable: drop_newest drops only what a client can see missing.
func TestDroppable(t *testing.T) {
	for _, tc := range []struct {
		ev   upstream.Event
		want bool
	}{
		{upstream.Event{Kind: upstream.KindMessage, Channel: "c", Seq: 7}, true},
		{upstream.Event{Kind: upstream.KindMessage, Channel: "c"}, false}, // no seq: no gap to see
		{upstream.Event{Kind: upstream.KindEvent, Name: "typing"}, false},
		{upstream.Event{Kind: upstream.KindLost, Channel: "c"}, false},
	} {
		if got := droppable(tc.ev); got != tc.want {
			t.Errorf("droppable(%+v) = %v, want %v", tc.ev, got, tc.want)
		}
	}
}
