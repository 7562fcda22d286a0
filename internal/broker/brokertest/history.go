package brokertest

import (
	"errors"
	"sync"
	"testing"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/testenv"
)

func (s *suite) testHistoryBasics(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	msgs, pos, err := b.History(ctx, "hist", 0, 0)
	if err != nil || len(msgs) != 0 || pos.Seq != 0 {
		t.Fatalf("History of an unused channel = %d messages, %+v, %v; want none, seq 0, nil", len(msgs), pos, err)
	}
	want := publishN(t, ctx, b, "hist", 5)
	epoch := want[0].Epoch
	for _, tc := range []struct {
		since uint64
		want  []broker.Message
	}{
		{0, want}, {2, want[2:]}, {4, want[4:]}, {5, nil}, {1000, nil},
	} {
		got, pos, err := b.History(ctx, "hist", tc.since, 0)
		if err != nil {
			t.Fatalf("History(since %d): %v", tc.since, err)
		}
		if pos != (broker.Position{Seq: 5, Epoch: epoch}) {
			t.Fatalf("History(since %d) position = %+v, want seq 5 epoch %q", tc.since, pos, epoch)
		}
		checkSame(t, "history", got, tc.want)
	}
}

func (s *suite) testHistoryLimit(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	want := publishN(t, ctx, b, "limit", 10)
	for _, tc := range []struct {
		since uint64
		limit int
		want  []broker.Message
	}{
		{0, 3, want[:3]}, {3, 3, want[3:6]}, {8, 3, want[8:]}, {0, 0, want}, {0, -1, want}, {0, 1 << 30, want},
	} {
		got, _, err := b.History(ctx, "limit", tc.since, tc.limit)
		if err != nil {
			t.Fatalf("History(since %d, limit %d): %v", tc.since, tc.limit, err)
		}
		checkSame(t, "history", got, tc.want)
	}
}

func (s *suite) testHistoryGone(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	h := s.cfg.HistorySize
	all := publishN(t, ctx, b, "gone", h+5)
	epoch := all[0].Epoch
	oldest := uint64(6)

	for _, since := range []uint64{0, 1, oldest - 2} {
		msgs, _, err := b.History(ctx, "gone", since, 0)
		if !errors.Is(err, broker.ErrHistoryGone) {
			t.Fatalf("History(since %d) = %d messages, %v; want ErrHistoryGone", since, len(msgs), err)
		}
		var gone *broker.HistoryGoneError
		if !errors.As(err, &gone) {
			t.Fatalf("History(since %d) error %T is not a *HistoryGoneError", since, err)
		}
		if *gone != (broker.HistoryGoneError{Channel: "gone", Since: since, Oldest: oldest, Epoch: epoch}) {
			t.Fatalf("History(since %d) error = %+v, want oldest %d epoch %q", since, *gone, oldest, epoch)
		}
	}
	got, _, err := b.History(ctx, "gone", oldest-1, 0)
	if err != nil {
		t.Fatalf("History(since %d) (oldest retained - 1): %v", oldest-1, err)
	}
	checkSame(t, "retained", got, all[5:])
	got, _, err = b.History(ctx, "gone", oldest-1, 2)
	if err != nil {
		t.Fatalf("History(since %d, limit 2): %v", oldest-1, err)
	}
	checkSame(t, "retained, limited", got, all[5:7])
}

func (s *suite) testEpochStable(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	sub := subscribe(t, ctx, b, "epoch")
	pub := publishN(t, ctx, b, "epoch", 3)
	epoch := pub[0].Epoch
	if epoch == "" {
		t.Fatal("empty epoch")
	}
	checkSeqs(t, "published", pub, "epoch", 1, epoch)
	checkSeqs(t, "live", recvN(t, ctx, sub, 3), "epoch", 1, epoch)
	hist, pos, err := b.History(ctx, "epoch", 0, 0)
	if err != nil || pos.Epoch != epoch {
		t.Fatalf("History: position %+v, err %v; want epoch %q", pos, err, epoch)
	}
	checkSeqs(t, "history", hist, "epoch", 1, epoch)
}

func (s *suite) testEpochChange(t *testing.T) {
	if s.cfg.LoseState == nil {
		t.Skip("Config.LoseState not set")
	}
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	old := publishN(t, ctx, b, "restart", 3)
	b = s.cfg.LoseState(t, b)

	m := publish(t, ctx, b, "restart", []byte(`"again"`))
	if m.Seq != 1 || m.Epoch == "" || m.Epoch == old[0].Epoch {
		t.Fatalf("first publish after losing state = seq %d epoch %q; want seq 1 and an epoch other than %q", m.Seq, m.Epoch, old[0].Epoch)
	}
	// A reader that last saw seq 3 of the old epoch learns of the change
	// from the position instead of silently getting nothing.
	got, pos, err := b.History(ctx, "restart", 3, 0)
	if err != nil || len(got) != 0 || pos != (broker.Position{Seq: 1, Epoch: m.Epoch}) {
		t.Fatalf("History(since 3) = %d messages, %+v, %v; want none at seq 1 epoch %q", len(got), pos, err, m.Epoch)
	}
	got, _, err = b.History(ctx, "restart", 0, 0)
	if err != nil {
		t.Fatalf("History(since 0): %v", err)
	}
	checkSame(t, "history after restart", got, []broker.Message{m})
}

// testSubscribeThenHistory: subscribing first and then reading history
// leaves no gap between the two, even while publishes continue.
func (s *suite) testSubscribeThenHistory(t *testing.T) {
	const before, during = 10, 40
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	publishN(t, ctx, b, "union", before)
	sub := subscribe(t, ctx, b, "union")

	var wg sync.WaitGroup
	var pubErr error
	wg.Go(func() {
		for range during {
			if _, err := b.Publish(ctx, "union", []byte(`{}`)); err != nil {
				pubErr = err
				return
			}
		}
	})
	hist, pos, err := b.History(ctx, "union", 0, 0)
	wg.Wait()
	if err != nil || pubErr != nil {
		t.Fatalf("History: %v; Publish: %v", err, pubErr)
	}
	epoch := hist[0].Epoch
	checkSeqs(t, "history", hist, "union", 1, epoch)
	if uint64(len(hist)) != pos.Seq || pos.Seq < before {
		t.Fatalf("History returned %d messages at position %d, want all of 1..position (>= %d)", len(hist), pos.Seq, before)
	}

	first, err := next(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq > pos.Seq+1 {
		t.Fatalf("first live seq %d leaves a gap after history, which ended at %d", first.Seq, pos.Seq)
	}
	rest := recvN(t, ctx, sub, before+during-int(first.Seq))
	checkSeqs(t, "live", append([]broker.Message{first}, rest...), "union", first.Seq, epoch)
}
