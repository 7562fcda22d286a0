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

// swapBroker forwards to cur, which a test replaces to simulate a broker
// that lost its state (a new epoch, seqs from 1 again).
type swapBroker struct {
	mu  sync.Mutex
	cur broker.Broker
}

func (s *swapBroker) get() broker.Broker  { s.mu.Lock(); defer s.mu.Unlock(); return s.cur }
func (s *swapBroker) set(b broker.Broker) { s.mu.Lock(); s.cur = b; s.mu.Unlock() }
func (s *swapBroker) Publish(ctx context.Context, ch string, d []byte) (broker.Message, error) {
	return s.get().Publish(ctx, ch, d)
}
func (s *swapBroker) Subscribe(ctx context.Context, ch string) (broker.Subscription, error) {
	return s.get().Subscribe(ctx, ch)
}
func (s *swapBroker) History(ctx context.Context, ch string, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	return s.get().History(ctx, ch, since, limit)
}
func (s *swapBroker) Close() error { return nil }

// gateRecorder blocks Deliver until gate is closed, after telling entered.
type gateRecorder struct {
	*recorder
	gate    chan struct{}
	entered chan struct{}
}

func (g *gateRecorder) Deliver(m broker.Message) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
	g.recorder.Deliver(m)
}

// When the hub finds a channel's stream restarted while it refills a gap
// after its broker subscription was closed as slow, it treats the channel
// as restarted, as when the restart shows in the live stream: it
// remembers the old stream's newest seq and refuses a later since from it
// with history_gone.
func TestRestartFoundByResubscribeIsRemembered(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b1 := newBroker(t, membroker.Options{SubscriberBuffer: 1})
	sb := &swapBroker{cur: b1}
	h := newHub(t, sb, HubOptions{})
	r := &gateRecorder{recorder: newRecorder(), gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	if _, err := h.Subscribe(ctx, "c", r); err != nil {
		t.Fatal(err)
	}
	publishN(t, ctx, b1, "c", 1)
	<-r.entered                  // the hub's fan-out is held in Deliver of seq 1
	publishN(t, ctx, b1, "c", 2) // seq 2 fills the hub's buffer, seq 3 overflows it
	if b1.Stats().SlowClosed != 1 {
		t.Fatalf("hub subscription not closed as slow: %+v", b1.Stats())
	}
	// The broker loses its state: a new epoch, seqs from 1 again.
	b2 := newBroker(t, membroker.Options{})
	sb.set(b2)
	publishN(t, ctx, b2, "c", 5)
	close(r.gate)

	if lostErr := r.waitLost(t); !errors.Is(lostErr, broker.ErrHistoryGone) {
		t.Fatalf("Lost(%v), want the stream-restarted error", lostErr)
	}
	// A client resuming with a seq of the old stream must be refused.
	late := newRecorder()
	pos, err := h.SubscribeSince(ctx, "c", late, 2)
	if !errors.Is(err, broker.ErrHistoryGone) {
		time.Sleep(100 * time.Millisecond)
		late.mu.Lock()
		defer late.mu.Unlock()
		var seqs []uint64
		for _, m := range late.msgs {
			seqs = append(seqs, m.Seq)
		}
		t.Fatalf("SubscribeSince(2) after the restart = %+v, %v; want history_gone. "+
			"Delivered seqs %v of the NEW stream as if they followed seq 2 of the old one", pos, err, seqs)
	}
}
