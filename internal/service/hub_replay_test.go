package service

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// replayHistory is how many messages the replay tests publish before
// subscribing: far more than the 16-message queue they run with.
const (
	replayHistory = 500
	replayQueue   = 16
)

// TestLegacyReplayLongerThanQueue: a subscribe with since replays a history
// 30 times the outbound queue; the client gets the ack, then every message
// in order, and stays connected (the replay waits for room rather than
// tripping the slow-consumer rule).
func TestLegacyReplayLongerThanQueue(t *testing.T) {
	env := startLegacy(t, envOptions{
		limits: Limits{OutboundMessages: replayQueue},
		broker: membroker.Options{HistorySize: 2 * replayHistory},
	})
	publishN(t, testenv.Context(t, 30*time.Second), env.b, "hist", replayHistory)

	c := env.dialRaw(t, nil)
	c.send(`{"type":"subscribe","channel":"hist","since":0,"id":1}`)
	if f := c.read(); f.Type != legacy.TypeAck || f.ID != 1 || f.Seq != replayHistory {
		t.Fatalf("first frame %s, want the ack with seq %d", legacy.Append(nil, f), replayHistory)
	}
	for i := range replayHistory {
		f := c.read()
		if f.Type != legacy.TypeMessage || f.Seq != uint64(i+1) || string(f.Data) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("frame %d: %s, want message seq %d", i, legacy.Append(nil, f), i+1)
		}
	}
	// Still connected, and live after the replay.
	c.send(`{"type":"ping","id":2}`)
	if f := c.read(); f.Type != legacy.TypePong || f.ID != 2 {
		t.Fatalf("got %s, want pong 2", legacy.Append(nil, f))
	}
	if _, err := env.b.Publish(testenv.Context(t, 30*time.Second), "hist", []byte(`"live"`)); err != nil {
		t.Fatal(err)
	}
	if f := c.read(); f.Type != legacy.TypeMessage || f.Seq != replayHistory+1 {
		t.Fatalf("got %s, want live message %d", legacy.Append(nil, f), replayHistory+1)
	}
	if n := env.l.Stats().SlowConsumers; n != 0 {
		t.Fatalf("slow consumers = %d, want 0", n)
	}
}

// TestSocketIOReplayLongerThanQueue is TestLegacyReplayLongerThanQueue for
// Socket.IO over WebSocket.
func TestSocketIOReplayLongerThanQueue(t *testing.T) {
	e := startSocketIO(t, SocketIOConfig{Limits: Limits{OutboundMessages: replayQueue}},
		membroker.Options{HistorySize: 2 * replayHistory})
	publishN(t, testenv.Context(t, 30*time.Second), e.b, "hist", replayHistory)

	c := e.dialSIO(t)
	if got := c.request("subscribe", `{"channel":"hist","since":0}`); got != fmt.Sprintf(`[{"ok":true,"seq":%d}]`, replayHistory) {
		t.Fatalf("subscribe ack %s", got)
	}
	if len(c.events) != 0 {
		t.Fatalf("messages ahead of the ack: %q", c.events)
	}
	for i := range replayHistory {
		want := fmt.Sprintf(`42["message",{"channel":"hist","seq":%d,"data":{"n":%d}}]`, i+1, i)
		if got := c.next(); got != want {
			t.Fatalf("message %d: %s, want %s", i, got, want)
		}
	}
	// Still connected, and live after the replay.
	if got := c.request("publish", `{"channel":"hist","data":"live"}`); got != fmt.Sprintf(`[{"ok":true,"seq":%d}]`, replayHistory+1) {
		t.Fatalf("publish ack %s", got)
	}
	want := fmt.Sprintf(`42["message",{"channel":"hist","seq":%d,"data":"live"}]`, replayHistory+1)
	if got := c.next(); got != want {
		t.Fatalf("live message %s, want %s", got, want)
	}
	if st := e.svc.Stats(); st.SlowConsumers != 0 {
		t.Fatalf("stats %+v, want no slow consumer", st)
	}
}

// windowed is a ReplaySubscriber over a queue of size items that a test
// drains by hand; it fails the test if a replay overfills it.
type windowed struct {
	t    *testing.T
	size int

	queued chan broker.Message
	lost   chan error
}

func (w *windowed) Deliver(m broker.Message) {
	select {
	case w.queued <- m:
	default:
		w.t.Errorf("seq %d overflowed the queue of %d", m.Seq, w.size)
	}
}

func (w *windowed) Lost(_ string, err error) { w.lost <- err }

func (w *windowed) WaitRoom(ctx context.Context, msgs []broker.Message) (int, error) {
	return replayWindow(ctx, msgs, w.size, 1<<20, func(broker.Message) int { return 1 },
		func(ctx context.Context, items, _ int) error {
			for cap(w.queued)-len(w.queued) < items {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Millisecond):
				}
			}
			return nil
		})
}

// TestHubReplayWindowedWhilePublishing: a windowed replay of a long history
// to a subscriber that reads only once as much again has been published
// (so its pending buffer overflows and history is read again) gives every
// seq once, in order, without ever overfilling the subscriber's queue.
func TestHubReplayWindowedWhilePublishing(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{HistorySize: 4 * replayHistory})
	h := newHub(t, b, HubOptions{MaxPending: 8})
	publishN(t, ctx, b, "w", replayHistory)

	w := &windowed{t: t, size: replayQueue, queued: make(chan broker.Message, replayQueue), lost: make(chan error, 1)}
	done := make(chan error, 1)
	go func() {
		_, err := h.SubscribeSince(ctx, "w", w, 0)
		done <- err
	}()
	// The replay is stuck on the full queue while these are published.
	testenv.Eventually(t, "the first window", 10*time.Second, func() bool { return len(w.queued) == replayQueue/2 })
	publishN(t, ctx, b, "w", replayHistory)

	var next uint64 = 1
	for next <= 2*replayHistory {
		select {
		case m := <-w.queued:
			if m.Seq != next {
				t.Fatalf("got seq %d, want %d", m.Seq, next)
			}
			next++
		case err := <-w.lost:
			t.Fatalf("lost: %v", err)
		case <-ctx.Done():
			t.Fatalf("stuck at seq %d", next)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("SubscribeSince: %v", err)
	}
	if st := h.Stats(); st.Rereads == 0 {
		t.Errorf("stats %+v: want a re-read after the pending buffer overflowed", st)
	}
	h.Unsubscribe("w", w)
}

// historyCounter counts History reads.
type historyCounter struct {
	broker.Broker
	reads atomic.Int32
}

func (b *historyCounter) History(ctx context.Context, channel string, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	b.reads.Add(1)
	return b.Broker.History(ctx, channel, since, limit)
}

// TestHubResumeAtHeadJoinsLive: a subscribe with since at the seq the
// live channel stands at (a gateway moving a session) joins live without
// reading history, and its stream continues exactly after since; a since
// behind still replays.
func TestHubResumeAtHeadJoinsLive(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	mb := newBroker(t, membroker.Options{HistorySize: 100})
	b := &historyCounter{Broker: mb}
	h := newHub(t, b, HubOptions{})
	publishN(t, ctx, b, "r", 5)

	first := newRecorder()
	if _, err := h.Subscribe(ctx, "r", first); err != nil {
		t.Fatal(err)
	}
	reads := b.reads.Load()
	atHead := newRecorder()
	pos, err := h.SubscribeSince(ctx, "r", atHead, 5)
	if err != nil || pos.Seq != 5 {
		t.Fatalf("subscribe since 5: %+v, %v", pos, err)
	}
	if n := b.reads.Load() - reads; n != 0 {
		t.Errorf("%d history reads for a since at the head", n)
	}
	behind := newRecorder()
	if _, err := h.SubscribeSince(ctx, "r", behind, 3); err != nil {
		t.Fatal(err)
	}
	if b.reads.Load() == reads {
		t.Error("a since behind the head read no history")
	}
	publishN(t, ctx, b, "r", 3)
	atHead.waitSeqs(t, 6, 3)
	behind.waitSeqs(t, 4, 5)
	if st := h.Stats(); st.ResumedLive != 1 {
		t.Errorf("stats %+v, want 1 resumed live", st)
	}
}
