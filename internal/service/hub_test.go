package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// recorder is a Subscriber that keeps what it is given. delay makes
// Deliver slow, to push the hub's own broker subscription into overflow.
type recorder struct {
	delay time.Duration

	mu   sync.Mutex
	msgs []broker.Message
	lost []error
	more chan struct{}
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) Deliver(m broker.Message) {
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Lost(channel string, err error) {
	r.mu.Lock()
	r.lost = append(r.lost, fmt.Errorf("%s: %w", channel, err))
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// waitLost waits up to 10 s for r to lose a channel and returns the first
// error it was told.
func (r *recorder) waitLost(t *testing.T) error {
	t.Helper()
	testenv.Eventually(t, "a Lost", 10*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.lost) > 0
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost[0]
}

// waitSeqs waits until r holds at least n messages, then checks they are
// exactly seqs first..first+n-1 in order.
func (r *recorder) waitSeqs(t *testing.T, first uint64, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		got := len(r.msgs)
		r.mu.Unlock()
		if got >= n {
			break
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("timed out with %d of %d messages", got, n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) != n {
		t.Fatalf("got %d messages, want exactly %d", len(r.msgs), n)
	}
	for i, m := range r.msgs {
		if want := first + uint64(i); m.Seq != want {
			t.Fatalf("message %d has seq %d, want %d (gap or duplicate)", i, m.Seq, want)
		}
	}
}

func newBroker(t *testing.T, opts membroker.Options) *membroker.Broker {
	t.Helper()
	b, err := membroker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newHub(t *testing.T, b broker.Broker, opts HubOptions) *Hub {
	t.Helper()
	h := NewHub(b, opts)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func publishN(t *testing.T, ctx context.Context, b broker.Broker, channel string, n int) {
	t.Helper()
	for i := range n {
		if _, err := b.Publish(ctx, channel, fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHubFanOutSharesOneSubscription(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{})
	h := newHub(t, b, HubOptions{})
	publishN(t, ctx, b, "c", 3) // before anyone subscribed: not delivered

	r1, r2 := newRecorder(), newRecorder()
	pos, err := h.Subscribe(ctx, "c", r1)
	if err != nil || pos.Seq != 3 || pos.Epoch != b.Epoch() {
		t.Fatalf("Subscribe = %+v, %v; want seq 3", pos, err)
	}
	if _, err := h.Subscribe(ctx, "c", r2); err != nil {
		t.Fatal(err)
	}
	if got := b.Stats().Subscriptions; got != 1 {
		t.Fatalf("broker subscriptions = %d, want 1 shared by the hub", got)
	}
	publishN(t, ctx, b, "c", 5)
	r1.waitSeqs(t, 4, 5)
	r2.waitSeqs(t, 4, 5)

	if _, err := h.Subscribe(ctx, "c", r1); !errors.Is(err, ErrAlreadySubscribed) {
		t.Fatalf("second Subscribe: %v, want ErrAlreadySubscribed", err)
	}
	if !h.Unsubscribe("c", r1) || h.Unsubscribe("c", r1) {
		t.Fatal("Unsubscribe should report true once, then false")
	}
	h.Unsubscribe("c", r2)
	if st := h.Stats(); st.Channels != 0 {
		t.Fatalf("hub channels after last unsubscribe = %d", st.Channels)
	}
	testenv.Eventually(t, "broker subscription closed", 10*time.Second, func() bool { return b.Stats().Subscriptions == 0 })
}

func TestHubSubscribeSinceWhilePublishing(t *testing.T) {
	for _, pending := range []int{0, 2} { // default, and tiny to force re-reads
		t.Run(fmt.Sprintf("maxPending=%d", pending), func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			b := newBroker(t, membroker.Options{HistorySize: 5000})
			h := newHub(t, b, HubOptions{MaxPending: pending})
			// Keep the channel live in the hub, so replay overlaps fan-out.
			if _, err := h.Subscribe(ctx, "c", newRecorder()); err != nil {
				t.Fatal(err)
			}
			publishN(t, ctx, b, "c", 100)

			const total = 1000
			done := make(chan error, 1)
			go func() {
				for i := 100; i < total; i++ {
					if _, err := b.Publish(ctx, "c", []byte(`1`)); err != nil {
						done <- err
						return
					}
					// Bursts with gaps: a replay overflowing a tiny pending
					// buffer catches up in a gap. An unbroken stream faster
					// than the replay can fail it by design
					// (maxCatchUpRounds), which the race detector's
					// slowness made happen here 1 run in 10.
					if pending > 0 && i%10 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
				done <- nil
			}()
			var rs []*recorder
			for _, since := range []uint64{0, 50, 99} {
				r := newRecorder()
				if _, err := h.SubscribeSince(ctx, "c", r, since); err != nil {
					t.Fatalf("SubscribeSince(%d): %v", since, err)
				}
				rs = append(rs, r)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for i, since := range []uint64{0, 50, 99} {
				rs[i].waitSeqs(t, since+1, total-int(since))
			}
		})
	}
}

// gatedHistory holds History calls for replays (not position probes) until
// the gate opens, so a test can publish while a replay is in progress.
type gatedHistory struct {
	broker.Broker
	gate    chan struct{}
	entered chan struct{}
}

func (g *gatedHistory) History(ctx context.Context, ch string, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	if since != positionProbe {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, broker.Position{}, ctx.Err()
		}
	}
	return g.Broker.History(ctx, ch, since, limit)
}

// TestHubReplayPendingOverflow fills a replaying subscriber's pending
// buffer while its history read is held: the hub must read history again
// and still deliver every seq once.
func TestHubReplayPendingOverflow(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	mb := newBroker(t, membroker.Options{})
	g := &gatedHistory{Broker: mb, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	h := newHub(t, g, HubOptions{MaxPending: 2})
	live := newRecorder()
	if _, err := h.Subscribe(ctx, "c", live); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, mb, "c", 5)
	// Fanned out first, so that since 0 is behind the channel and the
	// subscribe replays (at the head it would join live directly).
	live.waitSeqs(t, 1, 5)

	late := newRecorder()
	errc := make(chan error, 1)
	go func() {
		_, err := h.SubscribeSince(ctx, "c", late, 0)
		errc <- err
	}()
	<-g.entered                   // the replay is reading history
	publishN(t, ctx, mb, "c", 10) // more than MaxPending arrive meanwhile
	live.waitSeqs(t, 1, 15)       // and have been fanned out
	close(g.gate)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	late.waitSeqs(t, 1, 15)
	if st := h.Stats(); st.Rereads == 0 {
		t.Fatalf("stats %+v: want a history re-read", st)
	}
}

func TestHubSubscribeSinceErrors(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{HistorySize: 10})
	h := newHub(t, b, HubOptions{})
	publishN(t, ctx, b, "c", 30)

	r := newRecorder()
	_, err := h.SubscribeSince(ctx, "c", r, 5)
	var gone *broker.HistoryGoneError
	if !errors.Is(err, broker.ErrHistoryGone) || !errors.As(err, &gone) || gone.Oldest != 21 {
		t.Fatalf("since 5 of 30 with 10 retained: %v, want HistoryGoneError oldest 21", err)
	}
	if _, err := h.SubscribeSince(ctx, "c", r, 31); !errors.Is(err, ErrSinceAhead) {
		t.Fatalf("since 31 of 30: %v, want ErrSinceAhead", err)
	}
	if _, err := h.Subscribe(ctx, "", r); !errors.Is(err, broker.ErrInvalidChannel) {
		t.Fatalf("empty channel: %v", err)
	}
	if st := h.Stats(); st.Channels != 0 {
		t.Fatalf("failed subscribes left %d channels", st.Channels)
	}
	// The failed attempts left nothing behind: a good one works.
	pos, err := h.SubscribeSince(ctx, "c", r, 20)
	if err != nil || pos.Seq != 30 {
		t.Fatalf("since 20: %+v, %v", pos, err)
	}
	r.waitSeqs(t, 21, 10)
}

// TestHubSurvivesSlowBrokerSubscription makes the hub's own broker
// subscription overflow; the hub must resubscribe and fill the gap from
// history so its subscriber still sees every seq once.
func TestHubSurvivesSlowBrokerSubscription(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{SubscriberBuffer: 2, HistorySize: 1000})
	h := newHub(t, b, HubOptions{})
	r := newRecorder()
	r.delay = 200 * time.Microsecond
	if _, err := h.Subscribe(ctx, "c", r); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, b, "c", 300)
	r.waitSeqs(t, 1, 300)
	if st := h.Stats(); st.Resubscribes == 0 {
		t.Fatalf("expected at least one resubscribe, stats %+v (broker slow closes %d)", st, b.Stats().SlowClosed)
	}
}

func TestHubLostWhenBrokerCloses(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{})
	h := newHub(t, b, HubOptions{})
	r := newRecorder()
	if _, err := h.Subscribe(ctx, "c", r); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	testenv.Eventually(t, "Lost(ErrClosed)", 10*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.lost) == 1 && errors.Is(r.lost[0], broker.ErrClosed)
	})
	if st := h.Stats(); st.Channels != 0 || st.Lost != 1 {
		t.Fatalf("stats after loss: %+v", st)
	}
	if h.Unsubscribe("c", r) {
		t.Fatal("Unsubscribe after Lost reported a subscription")
	}
}

func TestHubConcurrentSubscribersOfNewChannel(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{})
	h := newHub(t, b, HubOptions{})
	const n = 20
	rs := make([]*recorder, n)
	var wg sync.WaitGroup
	for i := range rs {
		rs[i] = newRecorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.Subscribe(ctx, "c", rs[i]); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := b.Stats().Subscriptions; got != 1 {
		t.Fatalf("broker subscriptions = %d, want 1", got)
	}
	publishN(t, ctx, b, "c", 10)
	for _, r := range rs {
		r.waitSeqs(t, 1, 10)
	}
	for _, r := range rs {
		wg.Add(1)
		go func() { defer wg.Done(); h.Unsubscribe("c", r) }()
	}
	wg.Wait()
	if st := h.Stats(); st.Channels != 0 {
		t.Fatalf("channels = %d after everyone left", st.Channels)
	}
}

func TestHubClose(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{})
	h := NewHub(b, HubOptions{})
	if _, err := h.Subscribe(ctx, "c", newRecorder()); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(ctx, "c", newRecorder()); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if got := b.Stats().Subscriptions; got != 0 {
		t.Fatalf("broker subscriptions after hub Close = %d", got)
	}
}

// TestHubSubscribeToLostChannel: a channel lost between finding it and
// joining it is not joined (it would never deliver nor report the loss):
// the subscribe starts the channel afresh, which here fails, the broker
// being gone.
func TestHubSubscribeToLostChannel(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{})
	h := newHub(t, b, HubOptions{})
	first := newRecorder()
	if _, err := h.Subscribe(ctx, "c", first); err != nil {
		t.Fatal(err)
	}
	h.afterAcquire = func() {
		h.afterAcquire = nil
		_ = b.Close()
		testenv.Eventually(t, "the channel's loss", 10*time.Second, func() bool {
			first.mu.Lock()
			defer first.mu.Unlock()
			return len(first.lost) == 1
		})
	}
	if _, err := h.SubscribeSince(ctx, "c", newRecorder(), 0); err == nil {
		t.Fatal("joined a lost channel without error")
	}
}

// gatedBroker holds every Subscribe until gate is closed, and tells of
// each one on entered.
type gatedBroker struct {
	broker.Broker
	gate    chan struct{}
	entered chan struct{}
}

func (b *gatedBroker) Subscribe(ctx context.Context, channel string) (broker.Subscription, error) {
	b.entered <- struct{}{}
	select {
	case <-b.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.Broker.Subscribe(ctx, channel)
}

// The subscriber that starts a channel can give up without failing the
// others that joined while the start was under way.
func TestChannelStartOutlivesItsFirstCaller(t *testing.T) {
	gb := &gatedBroker{Broker: newBroker(t, membroker.Options{}), gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	h := newHub(t, gb, HubOptions{})
	first, giveUp := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := h.Subscribe(first, "c", newRecorder())
		firstDone <- err
	}()
	<-gb.entered // the first caller's start is under way
	secondDone := make(chan error, 1)
	go func() {
		_, err := h.Subscribe(testenv.Context(t, 10*time.Second), "c", newRecorder())
		secondDone <- err
	}()
	time.Sleep(50 * time.Millisecond) // the second waits for the start too
	giveUp()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("the first caller, given up: %v", err)
	}
	close(gb.gate)
	if err := <-secondDone; err != nil {
		t.Fatalf("the second caller failed with the first one's end: %v", err)
	}
}
