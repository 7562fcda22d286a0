package drain

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// spread runs Spread and fails the test if it has not returned within a
// generous bound, so that a wait it should not make cannot hang the run.
func spread(t *testing.T, ctx context.Context, period time.Duration, n int, closeConn func(int)) error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- Spread(ctx, period, n, closeConn) }()
	select {
	case err := <-res:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Spread still waiting")
		return nil
	}
}

func TestSpreadSchedule(t *testing.T) {
	const n, period = 5, 80 * time.Millisecond
	start := time.Now()
	var order []int
	var at []time.Duration
	err := spread(t, context.Background(), period, n, func(i int) {
		order = append(order, i)
		at = append(at, time.Since(start))
	})
	if err != nil {
		t.Fatalf("Spread: %v", err)
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(order, want) {
		t.Fatalf("closes in order %v, want %v", order, want)
	}
	// Timers never fire early: each close comes no sooner than its turn.
	for i, d := range at {
		if due := period * time.Duration(i) / (n - 1); d < due {
			t.Errorf("close %d after %v, due at %v", i, d, due)
		}
	}
}

func TestSpreadFewConns(t *testing.T) {
	calls := 0
	if err := spread(t, context.Background(), time.Hour, 0, func(int) { calls++ }); err != nil || calls != 0 {
		t.Fatalf("no conns: %d calls, %v", calls, err)
	}
	// One connection is closed at once, whatever the period.
	if err := spread(t, context.Background(), time.Hour, 1, func(int) { calls++ }); err != nil || calls != 1 {
		t.Fatalf("one conn: %d calls, %v", calls, err)
	}
}

// TestSpreadCappedByDeadline: a period longer than ctx allows is cut to
// half the time left, so every close comes on schedule before ctx ends.
func TestSpreadCappedByDeadline(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	dl, _ := ctx.Deadline()
	var order []int
	var last time.Time
	err := spread(t, ctx, time.Hour, 3, func(i int) {
		order = append(order, i)
		last = time.Now()
	})
	if err != nil {
		t.Fatalf("Spread: %v, want every close before the deadline", err)
	}
	if want := []int{0, 1, 2}; !slices.Equal(order, want) {
		t.Fatalf("closes in order %v, want %v", order, want)
	}
	// The last close waited for the capped period: at least half the
	// time between the start and the deadline.
	if half := start.Add(dl.Sub(start) / 2); last.Before(half) {
		t.Fatalf("last close %v before the capped period's end %v", last.Sub(start), half.Sub(start))
	}
}

// TestSpreadContextEnds: once ctx ends, the closes still due all come at
// once, in order, and Spread reports ctx's error.
func TestSpreadContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var order []int
	err := spread(t, ctx, time.Hour, 4, func(i int) {
		order = append(order, i)
		if i == 0 {
			cancel() // long before close 1 is due
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Spread: %v, want %v", err, context.Canceled)
	}
	if want := []int{0, 1, 2, 3}; !slices.Equal(order, want) {
		t.Fatalf("closes in order %v, want %v", order, want)
	}

	// A context that has already ended closes everything at once.
	order = nil
	err = spread(t, ctx, time.Hour, 3, func(i int) { order = append(order, i) })
	if !errors.Is(err, context.Canceled) || !slices.Equal(order, []int{0, 1, 2}) {
		t.Fatalf("ended context: closes %v, %v", order, err)
	}
}

func TestOffset(t *testing.T) {
	cases := []struct {
		period   time.Duration
		i, steps int
		want     time.Duration
	}{
		{100, 0, 4, 0},
		{100, 1, 4, 25},
		{100, 4, 4, 100},
		{10, 1, 3, 3},
		{10, 2, 3, 6},
		// period*i would overflow a Duration.
		{1000 * time.Hour, 10_000_000, 10_000_000, 1000 * time.Hour},
		{1000 * time.Hour, 5_000_000, 10_000_000, 500 * time.Hour},
	}
	for _, c := range cases {
		if got := offset(c.period, c.i, c.steps); got != c.want {
			t.Errorf("offset(%v, %d, %d) = %v, want %v", c.period, c.i, c.steps, got, c.want)
		}
	}
}

func TestWait(t *testing.T) {
	var aborted atomic.Int32
	if err := Wait(context.Background(), func() {}, func() { aborted.Add(1) }); err != nil || aborted.Load() != 0 {
		t.Fatalf("finished wait: %v, %d aborts", err, aborted.Load())
	}

	// ctx ends first: abort is what lets wait return.
	ctx, cancel := context.WithCancel(context.Background())
	cut := make(chan struct{})
	waiting := make(chan struct{})
	go func() { <-waiting; cancel() }()
	err := Wait(ctx, func() { close(waiting); <-cut }, func() {
		aborted.Add(1)
		close(cut)
	})
	if !errors.Is(err, context.Canceled) || aborted.Load() != 1 {
		t.Fatalf("ended context: %v, %d aborts", err, aborted.Load())
	}
}

// TestConns: every connection is closed in order; when they all end in
// time nothing is cut, and when ctx ends first each is cut once.
func TestConns(t *testing.T) {
	var closed, cut []int
	err := Conns(context.Background(), 0, 3,
		func(i int) { closed = append(closed, i) },
		func(i int) { cut = append(cut, i) },
		func() {})
	if err != nil || !slices.Equal(closed, []int{0, 1, 2}) || cut != nil {
		t.Fatalf("in time: %v, closed %v, cut %v", err, closed, cut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ended := make(chan struct{})
	closed, cut = nil, nil
	err = Conns(ctx, 0, 2,
		func(i int) { closed = append(closed, i) },
		func(i int) {
			if cut = append(cut, i); len(cut) == 2 {
				close(ended)
			}
		},
		func() { <-ended })
	if !errors.Is(err, context.Canceled) || !slices.Equal(closed, []int{0, 1}) || !slices.Equal(cut, []int{0, 1}) {
		t.Fatalf("ctx ended: %v, closed %v, cut %v", err, closed, cut)
	}
}
