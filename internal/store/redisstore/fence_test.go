package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/redisstore"
	"github.com/baton-rt/baton/internal/store/storetest"
	"github.com/baton-rt/baton/internal/testenv"
)

// The fenced store is a store.Store like the plain one while its lease is
// held.
func TestFencedSuite(t *testing.T) {
	type held struct {
		prefix string
		lease  *redisstore.Lease
	}
	fenced := map[store.Store]held{}
	mk := func(t *testing.T, p string) store.Store {
		l := acquire(t, open(t, p), "gw-a", time.Minute)
		f := l.Fenced()
		fenced[f] = held{p, l}
		return f
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		p := uniquePrefix()
		deleteKeysAtEnd(t, p)
		return mk(t, p)
	}, storetest.Config{
		MaxEvents: maxEvents,
		Reopen: func(t *testing.T, s store.Store) store.Store {
			h := fenced[s]
			if err := h.lease.Release(testenv.Context(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return mk(t, h.prefix)
		},
		Peer: func(t *testing.T, s store.Store) store.Store {
			return open(t, fenced[s].prefix)
		},
	})
}

// TestFencedWriteOfALostLease: another gateway took the lease (a's
// expired unseen), and a's renewal has not come yet (a TTL of a minute).
// a's state write is refused, writes nothing and loses a's lease; the
// unfenced write (an emergency's) is still made.
func TestFencedWriteOfALostLease(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	ctx := testenv.Context(t, 10*time.Second)
	la := acquire(t, open(t, p), "gw-a", time.Minute)
	fa := la.Fenced()
	if _, err := fa.CompareAndSetState(ctx, 0, []byte("a1")); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t)
	if err := raw.Set(ctx, ownerKey(p), "gw-b 0022", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}

	_, err := fa.CompareAndSetState(ctx, 1, []byte("a2"))
	if !errors.Is(err, store.ErrLeaseLost) || !errors.Is(err, redisstore.ErrHeld) || !strings.Contains(err.Error(), "gw-b") {
		t.Fatalf("write of a lost lease: %v, want ErrLeaseLost naming gw-b", err)
	}
	if st, err := fa.GetState(ctx); err != nil || st.Version != 1 || string(st.Blob) != "a1" {
		t.Fatalf("state after the refused write: %d %q %v, want 1 \"a1\"", st.Version, st.Blob, err)
	}
	select {
	case <-la.Lost():
	default:
		t.Fatal("the refused write left the lease held")
	}
	var held *redisstore.HeldError
	if !errors.As(la.Err(), &held) || held.Owner != "gw-b" {
		t.Fatalf("Err() = %v, want a HeldError naming gw-b", la.Err())
	}
	if _, err := fa.CompareAndSetState(ctx, 1, []byte("a3")); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("second write of a lost lease: %v, want ErrLeaseLost", err)
	}

	if v, err := fa.Unfenced().CompareAndSetState(ctx, 1, []byte("emergency")); err != nil || v != 2 {
		t.Fatalf("unfenced write: %d %v, want version 2", v, err)
	}
	if v, err := raw.Get(ctx, ownerKey(p)).Result(); err != nil || v != "gw-b 0022" {
		t.Fatalf("the lease key holds %q (%v), want the new owner's", v, err)
	}
}

// fencedWrites are the writes a lease fences, each made once on a new
// store: of the state, and of an event.
var fencedWrites = map[string]func(context.Context, *redisstore.FencedStore) error{
	"state": func(ctx context.Context, fs *redisstore.FencedStore) error {
		_, err := fs.CompareAndSetState(ctx, 0, []byte("a1"))
		return err
	},
	"event": func(ctx context.Context, fs *redisstore.FencedStore) error {
		_, err := fs.AppendEvent(ctx, store.Event{Kind: "step_started"})
		return err
	},
}

// TestFencedWriteTakesBackAnExpiredLease: a lease that expired with
// nobody taking it (Redis away longer than the TTL) is still this
// holder's, as its renewal would find: a write, of the state or of an
// event, is made and takes the key back.
func TestFencedWriteTakesBackAnExpiredLease(t *testing.T) {
	for name, write := range fencedWrites {
		t.Run(name, func(t *testing.T) {
			p := uniquePrefix()
			deleteKeysAtEnd(t, p)
			ctx := testenv.Context(t, 10*time.Second)
			la := acquire(t, open(t, p), "gw-a", time.Minute)
			raw := rawClient(t)
			if err := raw.Del(ctx, ownerKey(p)).Err(); err != nil {
				t.Fatal(err)
			}
			if err := write(ctx, la.Fenced()); err != nil {
				t.Fatalf("write of an expired lease nobody took: %v", err)
			}
			if v, err := raw.Get(ctx, ownerKey(p)).Result(); err != nil || !strings.HasPrefix(v, "gw-a ") {
				t.Fatalf("the lease key holds %q (%v), want gw-a's", v, err)
			}
			if d, err := raw.PTTL(ctx, ownerKey(p)).Result(); err != nil || d <= 0 || d > time.Minute {
				t.Fatalf("the lease key's TTL is %v (%v), want the lease's", d, err)
			}
			if err := la.Err(); err != nil {
				t.Fatalf("lease lost: %v", err)
			}
		})
	}
}

// TestFencedWriteAfterRelease: a released lease fences nothing in: the
// write is refused, and the key is not taken again.
func TestFencedWriteAfterRelease(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	ctx := testenv.Context(t, 10*time.Second)
	la := acquire(t, open(t, p), "gw-a", time.Minute)
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := la.Fenced().CompareAndSetState(ctx, 0, []byte("a1")); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("write of a released lease: %v, want ErrLeaseLost", err)
	}
	if n, err := rawClient(t).Exists(ctx, ownerKey(p), p+"{store}:state").Result(); err != nil || n != 0 {
		t.Fatalf("%d of the lease and state keys exist after the refused write (%v), want none", n, err)
	}
}

// TestFencedWriteRacingRelease: a write passes its lease check, then
// Release deletes the key before the write's script runs. The script finds
// the key missing, as after an expiry nobody used, but nobody renews the
// lease any more: the key must not be left naming gw-a, or another gateway
// is refused the store for a TTL after the release.
func TestFencedWriteRacingRelease(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	ctx := testenv.Context(t, 10*time.Second)
	var once sync.Once
	var la *redisstore.Lease
	redisstore.SetFencedWriteHook(t, func() {
		once.Do(func() {
			if err := la.Release(ctx); err != nil {
				t.Error(err)
			}
		})
	})
	la = acquire(t, open(t, p), "gw-a", time.Minute)
	v, err := la.Fenced().CompareAndSetState(ctx, 0, []byte("a1"))
	t.Logf("the write that raced Release: version %d, %v", v, err)
	if v, err := rawClient(t).Get(ctx, ownerKey(p)).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after Release the lease key holds %q (%v), want it deleted", v, err)
	}
	acquire(t, open(t, p), "gw-b", time.Minute) // at once, not after gw-a's TTL
}

// TestRenewalRacingALostLease: a renewal is under way when a fenced write
// finds another owner (gw-b) in the key and loses the lease; gw-b then
// goes (released), and the renewal's script finds the key missing. The
// lease is lost and no longer renewed: once its holder has released it,
// the key must not name gw-a, or the next gateway waits a TTL for it.
func TestRenewalRacingALostLease(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	ctx := testenv.Context(t, 10*time.Second)
	renewing, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	redisstore.SetRenewHook(t, ownerKey(p), func() {
		once.Do(func() {
			close(renewing)
			<-resume
		})
	})
	la := acquire(t, open(t, p), "gw-a", 3*time.Second)
	<-renewing
	raw := rawClient(t)
	if err := raw.Set(ctx, ownerKey(p), "gw-b 0022", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := la.Fenced().CompareAndSetState(ctx, 0, []byte("a1")); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("write of a lease gw-b holds: %v, want ErrLeaseLost", err)
	}
	if err := raw.Del(ctx, ownerKey(p)).Err(); err != nil {
		t.Fatal(err)
	}
	close(resume)
	testenv.Eventually(t, "the renewal to take the key back after the loss", 5*time.Second, func() bool {
		v, err := raw.Get(ctx, ownerKey(p)).Result()
		return err == nil && strings.HasPrefix(v, "gw-a ")
	})
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := raw.Get(ctx, ownerKey(p)).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after the lost lease's Release the key holds %q (%v), want it deleted", v, err)
	}
	acquire(t, open(t, p), "gw-c", time.Minute)
}

// TestFencedAppendOfALostLease: another gateway took the lease (a's
// expired unseen), and a's renewal has not come yet. a's event append is
// refused as its state write would be: an operator watching the events
// must not see transitions from a gateway that no longer runs the
// rollout. The refusal loses a's lease; the unfenced append (an
// emergency rollback's events) is still made.
func TestFencedAppendOfALostLease(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	ctx := testenv.Context(t, 10*time.Second)
	la := acquire(t, open(t, p), "gw-a", time.Minute)
	fa := la.Fenced()
	if _, err := fa.AppendEvent(ctx, store.Event{Kind: "step_started"}); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t)
	if err := raw.Set(ctx, ownerKey(p), "gw-b 0022", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}

	_, err := fa.AppendEvent(ctx, store.Event{Kind: "completed"})
	if !errors.Is(err, store.ErrLeaseLost) || !errors.Is(err, redisstore.ErrHeld) || !strings.Contains(err.Error(), "gw-b") {
		t.Fatalf("append of a lost lease: %v, want ErrLeaseLost naming gw-b", err)
	}
	if evs, err := fa.ListEvents(ctx, 0, 0); err != nil || len(evs) != 1 || evs[0].Kind != "step_started" {
		t.Fatalf("events after the refused append: %+v %v, want step_started alone", evs, err)
	}
	select {
	case <-la.Lost():
	default:
		t.Fatal("the refused append left the lease held")
	}
	if _, err := fa.AppendEvent(ctx, store.Event{Kind: "completed"}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("second append of a lost lease: %v, want ErrLeaseLost", err)
	}

	if seq, err := fa.Unfenced().AppendEvent(ctx, store.Event{Kind: "rollback_started"}); err != nil || seq != 2 {
		t.Fatalf("unfenced append: seq %d %v, want 2", seq, err)
	}
	if v, err := raw.Get(ctx, ownerKey(p)).Result(); err != nil || v != "gw-b 0022" {
		t.Fatalf("the lease key holds %q (%v), want the new owner's", v, err)
	}
}

// TestFencedWriteTakesBackTheLeasesMeta: a lease that expired with nobody
// taking it, taken back by a write (of the state or of an event) rather
// than by its renewal, goes on telling the owners it refuses the holder's
// Meta, as the renewal's take-back does: without it, until the next
// renewal, a gateway that would follow with another routing.salt is
// taken for one following a holder of a version without Meta, and let in.
func TestFencedWriteTakesBackTheLeasesMeta(t *testing.T) {
	for name, write := range fencedWrites {
		t.Run(name, func(t *testing.T) {
			p := uniquePrefix()
			deleteKeysAtEnd(t, p)
			ctx := testenv.Context(t, 10*time.Second)
			la, err := open(t, p).Acquire(ctx, "gw-a", redisstore.LeaseOptions{TTL: time.Minute, Meta: "routing salt=1"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = la.Release(testenv.Context(t, 5*time.Second)) })
			// Both expired, as they do together: set with one PX.
			if err := rawClient(t).Del(ctx, ownerKey(p), ownerKey(p)+"-meta").Err(); err != nil {
				t.Fatal(err)
			}
			if err := write(ctx, la.Fenced()); err != nil {
				t.Fatalf("write of an expired lease nobody took: %v", err)
			}
			_, err = open(t, p).Acquire(ctx, "gw-b", redisstore.LeaseOptions{TTL: time.Minute})
			if held, ok := errors.AsType[*redisstore.HeldError](err); !ok || held.Owner != "gw-a" || held.Meta != "routing salt=1" {
				t.Fatalf("Acquire after gw-a's write took its lease back: %v (meta %q), want a HeldError with gw-a's meta", err, metaOf(err))
			}
		})
	}
}

func metaOf(err error) string {
	if held, ok := errors.AsType[*redisstore.HeldError](err); ok {
		return held.Meta
	}
	return ""
}
