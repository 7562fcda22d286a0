package service

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// historyReads records the History reads made through it after since
// (the position probe, since positionProbe, is left out): the limit each
// asked for and how many messages it got. after, if set, runs after each
// recorded read.
type historyReads struct {
	broker.Broker
	mu     sync.Mutex
	limits []int
	got    []int
	after  func(read int)
}

func (b *historyReads) History(ctx context.Context, channel string, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	msgs, pos, err := b.Broker.History(ctx, channel, since, limit)
	if since == positionProbe {
		return msgs, pos, err
	}
	b.mu.Lock()
	b.limits = append(b.limits, limit)
	b.got = append(b.got, len(msgs))
	read, after := len(b.limits), b.after
	b.mu.Unlock()
	if after != nil {
		after(read)
	}
	return msgs, pos, err
}

// slowClosedWithGap subscribes a gated member to channel "c" of a hub over
// reads, holds the hub's fan-out in the member's Deliver of seq 1, and
// publishes n more messages, so that the hub's broker subscription (buffer
// 1) is closed as slow with seqs 2..n+1 to catch up from history once the
// gate opens.
func slowClosedWithGap(t *testing.T, ctx context.Context, b *membroker.Broker, reads *historyReads, n int) (*Hub, *gateRecorder) {
	t.Helper()
	h := newHub(t, reads, HubOptions{})
	r := &gateRecorder{recorder: newRecorder(), gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	if _, err := h.Subscribe(ctx, "c", r); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, b, "c", 1)
	<-r.entered // the hub's fan-out is held in Deliver of seq 1
	publishN(t, ctx, b, "c", n)
	if b.Stats().SlowClosed != 1 {
		t.Fatalf("hub subscription not closed as slow: %+v", b.Stats())
	}
	return h, r
}

// TestHubCatchUpIsPaged: after its broker subscription was closed as slow,
// the hub fills the gap from history a page at a time, as a replay does,
// not in one read of the whole retained history: with deep history (many
// thousands of messages of up to the maximum size) one read would hold all
// of it at once. The member still gets every seq once, in order.
func TestHubCatchUpIsPaged(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	const gap = 2000
	b := newBroker(t, membroker.Options{SubscriberBuffer: 1, HistorySize: 5000})
	reads := &historyReads{Broker: b}
	_, r := slowClosedWithGap(t, ctx, b, reads, gap)
	close(r.gate)
	r.waitSeqs(t, 1, 1+gap)

	reads.mu.Lock()
	defer reads.mu.Unlock()
	if len(reads.limits) == 0 {
		t.Fatal("no history read filled the gap")
	}
	for i, limit := range reads.limits {
		if limit <= 0 || limit > defaultReplayPage || reads.got[i] > defaultReplayPage {
			t.Fatalf("catch-up read %d asked for limit %d (0: the retention bound, 5000) and got %d messages; "+
				"want at most a page of %d", i, limit, reads.got[i], defaultReplayPage)
		}
	}
}

// TestHubCatchUpHistoryTrimmedBetweenPages: history the paged catch-up has
// not read yet is trimmed before it gets to it. The gap cannot be filled:
// the member loses the channel (history gone) after a gap-free prefix,
// never skipping to what is retained.
func TestHubCatchUpHistoryTrimmedBetweenPages(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	const retained = 300
	b := newBroker(t, membroker.Options{SubscriberBuffer: 1, HistorySize: retained})
	reads := &historyReads{Broker: b}
	_, r := slowClosedWithGap(t, ctx, b, reads, 200)
	reads.mu.Lock()
	reads.after = func(read int) {
		if read != 1 {
			return
		}
		for range retained { // seqs up to 201 are trimmed
			if _, err := b.Publish(ctx, "c", []byte(`1`)); err != nil {
				t.Error(err)
				return
			}
		}
	}
	reads.mu.Unlock()
	close(r.gate)

	if err := r.waitLost(t); !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatalf("Lost(%v), want history gone", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, m := range r.msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d, want %d (gap or duplicate)", i, m.Seq, i+1)
		}
	}
	if len(r.msgs) > 201 {
		t.Fatalf("got %d messages, more than the gap held", len(r.msgs))
	}
}
