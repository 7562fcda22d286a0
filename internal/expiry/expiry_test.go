package expiry

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// table is a connection's requests in flight: id -> deadline.
type table struct {
	mu     sync.Mutex
	due    map[int]time.Time
	failed map[int]time.Time // when each was given up
}

// sweep gives up what is due, as a connection would.
func (tb *table) sweep(now time.Time) time.Time {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	ids := make(map[int]int, len(tb.due))
	for id := range tb.due {
		ids[id] = id
	}
	due, next := TakeDue(ids, now, func(id int) time.Time { return tb.due[id] })
	for _, id := range due {
		delete(tb.due, id)
		tb.failed[id] = now
	}
	return next
}

func (tb *table) add(s *Sweeper, id int, at time.Time) {
	tb.mu.Lock()
	tb.due[id] = at
	tb.mu.Unlock()
	s.Arm(at)
}

// Requests added in any order of deadline, from several goroutines, are
// each given up once, not before their deadline, and all of them in the
// end, while the earlier ones did not wait for the later.
func TestEveryRequestIsGivenUpAfterItsDeadline(t *testing.T) {
	tb := &table{due: map[int]time.Time{}, failed: map[int]time.Time{}}
	s := New(tb.sweep)
	start := time.Now()
	offsets := []time.Duration{300, 40, 120, 10, 200, 60, 60, 250}
	var wg sync.WaitGroup
	for id, ms := range offsets {
		wg.Go(func() { tb.add(s, id, start.Add(ms*time.Millisecond)) })
	}
	wg.Wait()
	testenv.Eventually(t, "every request given up", 5*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return len(tb.failed) == len(offsets)
	})
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for id, ms := range offsets {
		at := start.Add(ms * time.Millisecond)
		if got := tb.failed[id]; got.Before(at) {
			t.Errorf("request %d due at +%dms given up early, at +%s", id, ms, got.Sub(start))
		}
	}
	// The 10 ms request did not wait for the 300 ms one's timer.
	if late := tb.failed[3].Sub(start); late > 250*time.Millisecond {
		t.Errorf("the first deadline was served at +%s, after later ones", late)
	}
}

// A stopped Sweeper runs no sweep; arming again starts it anew.
func TestStopCancelsTheSweep(t *testing.T) {
	tb := &table{due: map[int]time.Time{}, failed: map[int]time.Time{}}
	s := New(tb.sweep)
	tb.add(s, 1, time.Now().Add(20*time.Millisecond))
	s.Stop()
	time.Sleep(60 * time.Millisecond)
	tb.mu.Lock()
	n := len(tb.failed)
	tb.mu.Unlock()
	if n != 0 {
		t.Fatalf("a stopped sweeper swept %d requests", n)
	}
	tb.add(s, 2, time.Now().Add(10*time.Millisecond))
	testenv.Eventually(t, "both given up after a new Arm", 5*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return len(tb.failed) == 2
	})
}

// TakeDue takes what is due, leaves the rest and entries without a
// deadline, and names the earliest deadline left.
func TestTakeDue(t *testing.T) {
	now := time.Now()
	pending := map[string]time.Time{
		"past":  now.Add(-time.Second),
		"now":   now,
		"soon":  now.Add(time.Second),
		"later": now.Add(time.Minute),
		"never": {},
	}
	due, next := TakeDue(pending, now, func(at time.Time) time.Time { return at })
	if len(due) != 2 || len(pending) != 3 {
		t.Fatalf("took %d, left %v", len(due), pending)
	}
	for _, k := range []string{"soon", "later", "never"} {
		if _, ok := pending[k]; !ok {
			t.Errorf("%s taken", k)
		}
	}
	if !next.Equal(now.Add(time.Second)) {
		t.Errorf("next %v, want the earliest deadline left", next.Sub(now))
	}
}

// Due takes the sooner of ctx's deadline and the timeout, and is zero
// when there is neither.
func TestDue(t *testing.T) {
	if !Due(context.Background(), 0).IsZero() {
		t.Error("no deadline and no timeout: want never")
	}
	before := time.Now()
	if d := Due(context.Background(), time.Minute); d.Sub(before) < time.Minute || d.Sub(before) > time.Minute+time.Second {
		t.Errorf("timeout only: due in %s, want a minute", d.Sub(before))
	}
	soon, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	dl, _ := soon.Deadline()
	if d := Due(soon, time.Minute); !d.Equal(dl) {
		t.Errorf("a sooner deadline: due %s, want the deadline", d.Sub(before))
	}
	if d := Due(soon, 0); !d.Equal(dl) {
		t.Errorf("deadline only: due %s, want the deadline", d.Sub(before))
	}
}
