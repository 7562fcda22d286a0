package rollout

import "testing"

// TestFeedHistoryComesFirstOnceEach: a subscription with history gets
// what the feed published before it, then what it publishes after, each
// once and in order; what the history no longer holds counts as dropped.
func TestFeedHistoryComesFirstOnceEach(t *testing.T) {
	var f Feed
	n := DefaultSubscriptionBuffer + 3
	for i := 1; i <= n; i++ {
		f.Publish(Event{Seq: uint64(i)})
	}
	s := f.SubscribeWithHistory(2 * DefaultSubscriptionBuffer)
	defer s.Close()
	plain := f.Subscribe(0)
	defer plain.Close()
	f.Publish(Event{Seq: uint64(n + 1)})
	if d := s.Dropped(); d != 3 {
		t.Errorf("dropped %d, want the 3 the history no longer holds", d)
	}
	for want := uint64(4); want <= uint64(n+1); want++ {
		if e := <-s.C(); e.Seq != want {
			t.Fatalf("event seq %d, want %d", e.Seq, want)
		}
	}
	if e := <-plain.C(); e.Seq != uint64(n+1) || len(plain.C()) != 0 {
		t.Fatalf("a plain subscription got seq %d (and %d more), want only the later %d", e.Seq, len(plain.C()), n+1)
	}
}
