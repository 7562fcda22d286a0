package redisbroker_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestResyncCatchesUpEveryChannel: after a reconnect, channels catch up in
// pipelined batches (of 3 here, so several batches and a short last one),
// each from its own last seq, with the cases a single read cannot settle:
// a channel whose stream restarted meanwhile (a second read, in the new
// epoch), one that missed more than history holds, and a Redis that lost
// its script cache.
func TestResyncCatchesUpEveryChannel(t *testing.T) {
	prefix := uniquePrefix()
	opts := redisbroker.Options{HistorySize: 8}
	sb, name := namedBroker(t, prefix, opts)
	sb.SetResyncBatch(3)
	opts.Prefix = prefix
	pb := newBroker(t, opts)
	ctx := testenv.Context(t, 20*time.Second)

	const channels = 10
	const restarted, lost = 4, 9
	subs := make([]broker.Subscription, channels)
	epochs := make([]string, channels)
	for i := range subs {
		s, err := sb.Subscribe(ctx, fmt.Sprintf("rs-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		subs[i] = s
		epochs[i] = publishN(t, ctx, pb, fmt.Sprintf("rs-%d", i), 1)[0].Epoch
		recv(t, ctx, s, 1)
	}

	release := sb.HoldSubscriptions()
	killPubSub(t, name)
	raw := rawClient(t)
	missed := func(i int) int { return i%4 + 1 }
	for i := range subs {
		ch := fmt.Sprintf("rs-%d", i)
		switch i {
		case restarted:
			if err := raw.Del(ctx, prefix+"{"+ch+"}:m", prefix+"{"+ch+"}:h").Err(); err != nil {
				t.Fatal(err)
			}
		case lost:
			publishN(t, ctx, pb, ch, 12) // more than the 8 history holds
			continue
		}
		publishN(t, ctx, pb, ch, missed(i))
	}
	if err := raw.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	release()

	for i, s := range subs {
		switch i {
		case lost:
			drain(t, ctx, s)
			if err := s.Err(); !errors.Is(err, redisbroker.ErrMissedMessages) || !errors.Is(err, broker.ErrHistoryGone) {
				t.Errorf("channel %d: Err() = %v, want ErrMissedMessages wrapping ErrHistoryGone", i, err)
			}
		case restarted:
			got := recv(t, ctx, s, missed(i))
			if got[0].Epoch == epochs[i] {
				t.Errorf("channel %d: messages of epoch %s, want the restarted stream's", i, epochs[i])
			}
			checkSeqs(t, got, 1, got[0].Epoch)
		default:
			checkSeqs(t, recv(t, ctx, s, missed(i)), 2, epochs[i])
		}
	}
	// Nothing more came: each message exactly once.
	m := publishN(t, ctx, pb, "rs-0", 1)[0]
	checkSeqs(t, recv(t, ctx, subs[0], 1), m.Seq, epochs[0])
}
