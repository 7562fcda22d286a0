package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func newQ(t testing.TB, items, bytes int) *Queue[int] {
	t.Helper()
	q, err := NewQueue[int](items, bytes)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestNewQueueRejectsBadBounds(t *testing.T) {
	for _, b := range [][2]int{{0, 1}, {1, 0}, {-1, 5}} {
		if _, err := NewQueue[int](b[0], b[1]); err == nil {
			t.Errorf("NewQueue(%d, %d): want error", b[0], b[1])
		}
	}
}

func TestQueueCountBound(t *testing.T) {
	q := newQ(t, 2, 1000)
	for i := range 2 {
		if err := q.Push(i, 1); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := q.Push(2, 1); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third push: got %v, want ErrQueueFull", err)
	}
	if n, b := q.Len(); n != 2 || b != 2 {
		t.Fatalf("Len = %d, %d; want 2, 2 (rejected push must not change the queue)", n, b)
	}
	got := q.Drain(nil)
	if len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("Drain = %v", got)
	}
	if err := q.Push(3, 1); err != nil {
		t.Fatalf("push after drain: %v", err)
	}
}

func TestQueueByteBound(t *testing.T) {
	q := newQ(t, 100, 10)
	if err := q.Push(1, 6); err != nil {
		t.Fatal(err)
	}
	if err := q.Push(2, 5); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", err)
	}
	if err := q.Push(3, 4); err != nil {
		t.Fatalf("exact fit: %v", err)
	}
	q.Drain(nil)
	// An item larger than the bound fits an empty queue only.
	if err := q.Push(4, 11); err != nil {
		t.Fatalf("item larger than the bound on an empty queue: %v", err)
	}
	if err := q.Push(5, 1); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("push behind an item larger than the bound: got %v, want ErrQueueFull", err)
	}
	q.Drain(nil)
	if err := q.Push(6, 1); err != nil {
		t.Fatal(err)
	}
	if err := q.Push(7, 11); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("item larger than the bound behind another: got %v, want ErrQueueFull", err)
	}
}

func TestQueueCloseKeepsItemsDrainable(t *testing.T) {
	q := newQ(t, 10, 10)
	_ = q.Push(7, 1)
	q.Close()
	q.Close() // idempotent
	if err := q.Push(8, 1); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("push after close: got %v", err)
	}
	ctx := context.Background()
	if err := q.Wait(ctx); err != nil {
		t.Fatalf("wait with items left: %v", err)
	}
	if got := q.Drain(nil); len(got) != 1 || got[0] != 7 {
		t.Fatalf("Drain = %v", got)
	}
	if err := q.Wait(ctx); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("wait on closed empty queue: got %v", err)
	}
}

func TestQueueWaitHonoursContext(t *testing.T) {
	q := newQ(t, 10, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
}

func TestQueueWaitWakesOnPushAndClose(t *testing.T) {
	q := newQ(t, 10, 10)
	errc := make(chan error, 1)
	go func() { errc <- q.Wait(context.Background()) }()
	_ = q.Push(1, 1)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	q.Drain(nil)
	go func() { errc <- q.Wait(context.Background()) }()
	q.Close()
	if err := <-errc; !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("got %v", err)
	}
}

// TestQueueConcurrent has several producers racing one consumer that drains
// in batches; every accepted item must arrive exactly once, in each
// producer's order, and rejected pushes must be retried successfully.
func TestQueueConcurrent(t *testing.T) {
	const producers, perProducer = 4, 2000
	q, err := NewQueue[[2]int](64, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; {
				switch err := q.Push([2]int{p, i}, 8); {
				case err == nil:
					i++
				case errors.Is(err, ErrQueueFull):
					time.Sleep(10 * time.Microsecond) // consumer catches up
				default:
					t.Errorf("push: %v", err)
					return
				}
				if ctx.Err() != nil {
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); q.Close() }()

	next := make([]int, producers)
	var batch [][2]int
	for {
		if err := q.Wait(ctx); err != nil {
			if !errors.Is(err, ErrQueueClosed) {
				t.Fatalf("wait: %v", err)
			}
			break
		}
		batch = q.Drain(batch)
		for _, it := range batch {
			if it[1] != next[it[0]] {
				t.Fatalf("producer %d: got item %d, want %d", it[0], it[1], next[it[0]])
			}
			next[it[0]]++
		}
	}
	for p, n := range next {
		if n != perProducer {
			t.Errorf("producer %d: received %d of %d", p, n, perProducer)
		}
	}
}

func BenchmarkQueuePushDrain(b *testing.B) {
	q := newQ(b, 1024, 1<<20)
	var batch []int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = q.Push(i, 64)
		if i%32 == 31 {
			batch = q.Drain(batch)
		}
	}
}

// TestQueueDrainFreesBytes: Drain gives back the byte budget with the
// items. A queue that kept counting drained bytes would refuse a client
// that reads fast as soon as its total traffic passed the bound, and the
// edge would close it as a slow consumer.
func TestQueueDrainFreesBytes(t *testing.T) {
	q := newQ(t, 100, 10)
	for round := range 5 {
		for i := range 2 {
			if err := q.Push(i, 5); err != nil {
				t.Fatalf("round %d push %d (bound 10 bytes, 5 each, queue drained before): %v", round, i, err)
			}
		}
		if n, b := q.Len(); n != 2 || b != 10 {
			t.Fatalf("round %d: Len = %d, %d; want 2, 10", round, n, b)
		}
		q.Drain(nil)
		if n, b := q.Len(); n != 0 || b != 0 {
			t.Fatalf("round %d after Drain: Len = %d, %d; want 0, 0", round, n, b)
		}
	}
}
