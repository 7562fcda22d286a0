package memstore_test

import (
	"context"
	"math"
	"testing"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/memstore"
	"github.com/baton-rt/baton/internal/store/storetest"
)

func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := memstore.New(memstore.Options{MaxEvents: 16})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, storetest.Config{MaxEvents: 16})
}

func TestOptions(t *testing.T) {
	if _, err := memstore.New(memstore.Options{MaxEvents: -1}); err == nil {
		t.Fatal("negative MaxEvents accepted")
	}
}

// A limit past any count (math.MaxInt) means every event after the seq,
// not an overflow.
func TestListEventsWithAHugeLimit(t *testing.T) {
	s, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if _, err := s.AppendEvent(ctx, store.Event{Kind: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.ListEvents(ctx, 1, math.MaxInt)
	if err != nil || len(evs) != 2 {
		t.Fatalf("ListEvents(1, MaxInt): %d events, %v; want 2", len(evs), err)
	}
}
