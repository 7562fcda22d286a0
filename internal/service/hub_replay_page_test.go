package service

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// pagedReplay subscribes w to channel with since 0, reading history four
// messages at a time, and waits until the replay is stuck on w's full
// window (half of w's queue delivered); then it runs meanwhile, lets w
// read, and returns the seqs w got and SubscribeWith's error.
func pagedReplay(t *testing.T, ctx context.Context, h *Hub, channel string, w *windowed, meanwhile func()) ([]broker.Message, error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := h.SubscribeWith(ctx, channel, w, SubscribeOptions{HasSince: true, ReplayPage: 4})
		done <- err
	}()
	testenv.Eventually(t, "the first windows", 10*time.Second, func() bool { return len(w.queued) == w.size/2 })
	meanwhile()
	var got []broker.Message
	for {
		select {
		case m := <-w.queued:
			got = append(got, m)
		case err := <-done:
			for len(w.queued) > 0 {
				got = append(got, <-w.queued)
			}
			return got, err
		case err := <-w.lost:
			t.Fatalf("lost: %v", err)
		case <-ctx.Done():
			t.Fatalf("replay stuck after %d messages", len(got))
		}
	}
}

// checkPrefix fails unless msgs are seqs 1, 2, … of epoch, without gap.
func checkPrefix(t *testing.T, msgs []broker.Message, epoch string) {
	t.Helper()
	for i, m := range msgs {
		if m.Seq != uint64(i+1) || m.Epoch != epoch {
			t.Fatalf("message %d: seq %d epoch %q, want seq %d epoch %q", i, m.Seq, m.Epoch, i+1, epoch)
		}
	}
}

// TestHubReplayHistoryTrimmedBetweenPages: messages a slow replay has not
// read yet are trimmed from history. The replay reads history a page at a
// time, so it cannot have them: it fails with ErrHistoryGone after a
// gap-free prefix, rather than skip to what is retained.
func TestHubReplayHistoryTrimmedBetweenPages(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	const retained = 40
	b := newBroker(t, membroker.Options{HistorySize: retained})
	h := newHub(t, b, HubOptions{})
	publishN(t, ctx, b, "t", retained)
	first, _, err := b.History(ctx, "t", 0, 1)
	if err != nil {
		t.Fatal(err)
	}

	w := &windowed{t: t, size: replayQueue, queued: make(chan broker.Message, replayQueue), lost: make(chan error, 1)}
	got, err := pagedReplay(t, ctx, h, "t", w, func() {
		publishN(t, ctx, b, "t", retained) // seqs 1..40 are trimmed
	})
	if !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatalf("SubscribeWith: %v after %d messages, want history gone", err, len(got))
	}
	checkPrefix(t, got, first[0].Epoch)
	if len(got) >= retained {
		t.Fatalf("got %d messages, want fewer than the %d trimmed", len(got), retained)
	}
	if h.Unsubscribe("t", w) {
		t.Fatal("still subscribed after the replay failed")
	}
}

// switchingHistory answers History from other once switched: the stream a
// replay is reading restarted under it.
type switchingHistory struct {
	broker.Broker
	other    broker.Broker
	epoch    string // when set, what other's answers claim as their epoch
	switched atomic.Bool
}

func (b *switchingHistory) History(ctx context.Context, channel string, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	if !b.switched.Load() {
		return b.Broker.History(ctx, channel, since, limit)
	}
	msgs, pos, err := b.other.History(ctx, channel, since, limit)
	if b.epoch != "" {
		pos.Epoch = b.epoch
		for i := range msgs {
			msgs[i].Epoch = b.epoch
		}
	}
	return msgs, pos, err
}

// TestHubReplayStreamRestartedBetweenPages: the stream a paged replay reads
// restarts between two pages, in a new epoch with more messages than the
// replay had reached, or goes back in the same epoch (a Redis replica that
// lagged took over). The replay delivers nothing of the new stream: it
// fails, matching ErrHistoryGone, after a gap-free prefix of the old one.
func TestHubReplayStreamRestartedBetweenPages(t *testing.T) {
	for _, tc := range []struct {
		name      string
		newer     int  // messages of the new stream
		sameEpoch bool // the new stream claims the old epoch
	}{
		{"new epoch", 100, false},
		{"went back", 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			old := newBroker(t, membroker.Options{})
			restarted := newBroker(t, membroker.Options{})
			publishN(t, ctx, old, "r", 40)
			publishN(t, ctx, restarted, "r", tc.newer)
			firstOld, _, err := old.History(ctx, "r", 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			sb := &switchingHistory{Broker: old, other: restarted}
			if tc.sameEpoch {
				sb.epoch = firstOld[0].Epoch
			}
			h := newHub(t, sb, HubOptions{})

			w := &windowed{t: t, size: replayQueue, queued: make(chan broker.Message, replayQueue), lost: make(chan error, 1)}
			got, err := pagedReplay(t, ctx, h, "r", w, func() { sb.switched.Store(true) })
			if !errors.Is(err, broker.ErrHistoryGone) {
				t.Fatalf("SubscribeWith: %v after %d messages, want the stream restarted (history gone)", err, len(got))
			}
			checkPrefix(t, got, firstOld[0].Epoch)
			if len(got) >= 40 {
				t.Fatalf("got %d messages, want a prefix", len(got))
			}
		})
	}
}
