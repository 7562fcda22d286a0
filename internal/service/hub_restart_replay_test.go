package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/testenv"
)

// heldSubscriptions holds back what its subscriptions receive until open
// is closed: the hub's fan-out has not seen the broker's newest messages
// yet (it is busy, or they are still on their way), while History already
// has them.
type heldSubscriptions struct {
	broker.Broker
	open chan struct{}
}

func (b *heldSubscriptions) Subscribe(ctx context.Context, channel string) (broker.Subscription, error) {
	sub, err := b.Broker.Subscribe(ctx, channel)
	if err != nil {
		return nil, err
	}
	held := &heldSubscription{Subscription: sub, out: make(chan broker.Message), done: make(chan struct{})}
	go held.forward(b.open)
	return held, nil
}

type heldSubscription struct {
	broker.Subscription
	out  chan broker.Message
	done chan struct{} // closed by Close
}

func (s *heldSubscription) forward(open <-chan struct{}) {
	defer close(s.out)
	select {
	case <-open:
	case <-s.done:
		return
	}
	for m := range s.Subscription.Messages() {
		select {
		case s.out <- m:
		case <-s.done:
			return
		}
	}
}

func (s *heldSubscription) Messages() <-chan broker.Message { return s.out }

func (s *heldSubscription) Close() error {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	return s.Subscription.Close()
}

// TestHubReplayFindsARestartBeforeItsFirstRead: Redis loses a channel's
// stream (its keys deleted) while the hub's channel follows it, and a
// client resumes with a since from the old stream before the hub's
// fan-out has seen anything of the new one. The replay's first history
// read is of the new stream: the hub must not hand out its seqs as if
// they followed the client's since (nor call that since ahead when the
// new stream is shorter). It treats the channel as restarted, as when the
// restart shows later: the subscribe fails with history gone, delivering
// nothing, the channel's members lose it, and the old since stays refused.
func TestHubReplayFindsARestartBeforeItsFirstRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		newer int // messages published on the new stream before the replay
	}{
		{"new stream past since", 5},
		{"nothing published since", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			b, _, raw, prefix, _ := redisHub(t, ctx, "restartfirst")
			held := &heldSubscriptions{Broker: b, open: make(chan struct{})}
			t.Cleanup(func() { close(held.open) })
			h := newHub(t, held, HubOptions{})

			publishN(t, ctx, b, "c", 3)
			member := newRecorder()
			if pos, err := h.Subscribe(ctx, "c", member); err != nil || pos.Seq != 3 {
				t.Fatalf("Subscribe = %+v, %v; want at seq 3", pos, err)
			}
			if err := raw.Del(ctx, prefix+"{c}:m", prefix+"{c}:h").Err(); err != nil {
				t.Fatal(err)
			}
			publishN(t, ctx, b, "c", tc.newer) // seqs 1..newer of a new epoch

			expectOldSinceRefused(t, ctx, h)
			if err := member.waitLost(t); !errors.Is(err, broker.ErrHistoryGone) {
				t.Fatalf("the member lost the channel with %v, want history gone", err)
			}
			if _, err := h.SubscribeSince(ctx, "c", newRecorder(), 3); !errors.Is(err, broker.ErrHistoryGone) {
				t.Fatalf("since 3, from the old stream: %v, want history gone", err)
			}
		})
	}
}

// TestHubSubscribeSinceRacingARestart: a client resumes with a since from
// a channel's old stream while the hub finds the stream restarted, after
// the subscribe checked its since against the restarts the hub knows and
// before it joined the channel. The channel it acquired is lost meanwhile,
// and the subscribe joins the channel started afresh on the new stream:
// its since must still be refused (history gone), not answered with the
// new stream's seqs after it.
func TestHubSubscribeSinceRacingARestart(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b, h, raw, prefix, _ := redisHub(t, ctx, "restartrace")

	member := newRecorder()
	if _, err := h.Subscribe(ctx, "c", member); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, b, "c", 3)
	member.waitSeqs(t, 1, 3)

	h.afterAcquire = func() {
		h.afterAcquire = nil
		if err := raw.Del(ctx, prefix+"{c}:m", prefix+"{c}:h").Err(); err != nil {
			t.Fatal(err)
		}
		publishN(t, ctx, b, "c", 5) // seqs 1..5 of a new epoch
		if err := member.waitLost(t); !errors.Is(err, broker.ErrHistoryGone) {
			t.Fatalf("the member lost the channel with %v, want history gone", err)
		}
	}
	expectOldSinceRefused(t, ctx, h)
}

// expectOldSinceRefused checks that a subscribe to "c" with since 2, a
// position of the stream that restarted, fails as history gone and
// delivers nothing.
func expectOldSinceRefused(t *testing.T, ctx context.Context, h *Hub) {
	t.Helper()
	late := newRecorder()
	pos, err := h.SubscribeSince(ctx, "c", late, 2)
	late.mu.Lock()
	got := len(late.msgs)
	late.mu.Unlock()
	if !errors.Is(err, broker.ErrHistoryGone) || got != 0 {
		t.Fatalf("SubscribeSince(2) of the old stream = %+v, %v, with %d messages delivered; "+
			"want history gone (the stream restarted) and none", pos, err, got)
	}
}
