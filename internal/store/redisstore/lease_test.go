package redisstore_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/store/redisstore"
	"github.com/baton-rt/baton/internal/testenv"
)

// ownerKey is the lease's key under prefix (see the package comment).
func ownerKey(prefix string) string { return prefix + "{store}:owner" }

func acquire(t *testing.T, s *redisstore.Store, owner string, ttl time.Duration) *redisstore.Lease {
	t.Helper()
	l, err := s.Acquire(testenv.Context(t, 5*time.Second), owner, redisstore.LeaseOptions{TTL: ttl})
	if err != nil {
		t.Fatalf("Acquire(%q): %v", owner, err)
	}
	t.Cleanup(func() { _ = l.Release(testenv.Context(t, 5*time.Second)) })
	return l
}

// expectHeld checks that owner's Acquire on s is refused in favour of holder.
func expectHeld(t *testing.T, s *redisstore.Store, owner, holder string) {
	t.Helper()
	l, err := s.Acquire(testenv.Context(t, 5*time.Second), owner, redisstore.LeaseOptions{TTL: time.Second})
	if err == nil {
		_ = l.Release(testenv.Context(t, 5*time.Second))
		t.Fatalf("%s took the lease that %s holds", owner, holder)
	}
	var held *redisstore.HeldError
	if !errors.As(err, &held) || !errors.Is(err, redisstore.ErrHeld) {
		t.Fatalf("Acquire(%q): %v, want a HeldError", owner, err)
	}
	if held.Owner != holder || held.Expires <= 0 {
		t.Fatalf("HeldError %+v, want owner %q and a positive expiry", held, holder)
	}
	if !strings.Contains(err.Error(), holder) {
		t.Fatalf("error %q does not name the holder %q", err, holder)
	}
}

func TestLeaseRefusesASecondGateway(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	a, b := open(t, p), open(t, p)
	la := acquire(t, a, "gw-a pid 1", time.Second)
	expectHeld(t, b, "gw-b pid 2", "gw-a pid 1")

	if err := la.Release(testenv.Context(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	acquire(t, b, "gw-b pid 2", time.Second) // at once, not after the TTL
	expectHeld(t, a, "gw-a pid 1", "gw-b pid 2")
}

func TestLeaseRenewalOutlastsItsTTL(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	a, b := open(t, p), open(t, p)
	la := acquire(t, a, "gw-a", 150*time.Millisecond)
	time.Sleep(600 * time.Millisecond) // four TTLs: only renewals keep it
	expectHeld(t, b, "gw-b", "gw-a")
	if err := la.Err(); err != nil {
		t.Fatalf("lease lost: %v", err)
	}
}

func TestLeaseOfADeadHolderExpires(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	raw := rawClient(t)
	// A holder that died without releasing: its key, renewed by nobody.
	if err := raw.Set(testenv.Context(t, 5*time.Second), ownerKey(p), "gw-dead 0011", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	b := open(t, p)
	expectHeld(t, b, "gw-b", "gw-dead")
	testenv.Eventually(t, "the dead holder's lease to expire", 3*time.Second, func() bool {
		l, err := b.Acquire(testenv.Context(t, 5*time.Second), "gw-b", redisstore.LeaseOptions{TTL: time.Second})
		if err == nil {
			t.Cleanup(func() { _ = l.Release(testenv.Context(t, 5*time.Second)) })
		}
		return err == nil
	})
}

func TestLeaseLostToAnotherOwner(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	a := open(t, p)
	la := acquire(t, a, "gw-a", 150*time.Millisecond)
	raw := rawClient(t)
	ctx := testenv.Context(t, 5*time.Second)
	// What another gateway does once a's lease expired unseen (a's
	// process stopped longer than the TTL, say): it takes the key.
	if err := raw.Set(ctx, ownerKey(p), "gw-b 0022", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-la.Lost():
	case <-time.After(3 * time.Second):
		t.Fatal("the lease was not reported lost within 3s of another owner taking it")
	}
	var held *redisstore.HeldError
	if err := la.Err(); !errors.As(err, &held) || held.Owner != "gw-b" {
		t.Fatalf("Err() = %v, want a HeldError naming gw-b", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := raw.Get(ctx, ownerKey(p)).Result(); err != nil || v != "gw-b 0022" {
		t.Fatalf("after the loser's Release the key holds %q (%v), want the new owner's", v, err)
	}
}

// A holder cut off from Redis longer than its TTL keeps the lease when
// nobody took it meanwhile: a Redis outage does not stop the gateway.
func TestLeaseSurvivesARedisOutage(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	proxy := testenv.StartProxy(t, testenv.RedisAddr(t))
	a, err := redisstore.New(testenv.Context(t, 5*time.Second), redisstore.Options{Addr: proxy.Addr(), Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	var renewErrors atomic.Int32
	la, err := a.Acquire(testenv.Context(t, 5*time.Second), "gw-a", redisstore.LeaseOptions{
		TTL:          150 * time.Millisecond,
		OnRenewError: func(error) { renewErrors.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = la.Release(testenv.Context(t, 5*time.Second)) })

	proxy.Down()
	raw := rawClient(t)
	ctx := testenv.Context(t, 10*time.Second)
	testenv.Eventually(t, "the lease to expire during the outage", 3*time.Second, func() bool {
		n, err := raw.Exists(ctx, ownerKey(p)).Result()
		return err == nil && n == 0
	})
	if renewErrors.Load() == 0 {
		t.Fatal("no renewal error reported during the outage")
	}
	proxy.Up()
	testenv.Eventually(t, "the holder to take its lease back", 5*time.Second, func() bool {
		v, err := raw.Get(ctx, ownerKey(p)).Result()
		return err == nil && strings.HasPrefix(v, "gw-a ")
	})
	if err := la.Err(); err != nil {
		t.Fatalf("lease reported lost after an outage nobody used: %v", err)
	}
}

// TestLeaseMetaReachesTheRefusedOwner: a holder's Meta is told to every
// owner it refuses, and goes with its lease; a holder without one (a
// version before Meta) tells nothing.
func TestLeaseMetaReachesTheRefusedOwner(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	a, b := open(t, p), open(t, p)
	ctx := testenv.Context(t, 5*time.Second)
	la, err := a.Acquire(ctx, "gw-a", redisstore.LeaseOptions{TTL: time.Second, Meta: "routing salt=1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, "gw-b", redisstore.LeaseOptions{TTL: time.Second})
	if held, ok := errors.AsType[*redisstore.HeldError](err); !ok || held.Owner != "gw-a" || held.Meta != "routing salt=1" {
		t.Fatalf("Acquire while gw-a holds: %v, want a HeldError with gw-a's meta", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	acquire(t, b, "gw-b", time.Second)
	_, err = a.Acquire(ctx, "gw-a", redisstore.LeaseOptions{TTL: time.Second, Meta: "routing salt=1"})
	if held, ok := errors.AsType[*redisstore.HeldError](err); !ok || held.Owner != "gw-b" || held.Meta != "" {
		t.Fatalf("Acquire while gw-b holds without meta: %v, want a HeldError without meta", err)
	}
}

// TestLeaseHolder: a gateway that does not hold the lease reads who does,
// by the name its holder gave, with its meta, and none once it is
// released.
func TestLeaseHolder(t *testing.T) {
	p := uniquePrefix()
	deleteKeysAtEnd(t, p)
	a, b := open(t, p), open(t, p)
	holder := func() (owner, meta string) {
		t.Helper()
		h, err := b.Holder(testenv.Context(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			return "", ""
		}
		return h.Owner, h.Meta
	}
	if o, _ := holder(); o != "" {
		t.Fatalf("Holder before any lease: %q, want none", o)
	}
	l, err := a.Acquire(testenv.Context(t, 5*time.Second), "gw-a pid 1 admin 10.0.0.5:9090", redisstore.LeaseOptions{TTL: time.Second, Meta: "routing salt=1"})
	if err != nil {
		t.Fatal(err)
	}
	if o, m := holder(); o != "gw-a pid 1 admin 10.0.0.5:9090" || m != "routing salt=1" {
		t.Fatalf("Holder: %q with meta %q, want the holder's name without its token, and its meta", o, m)
	}
	if err := l.Release(testenv.Context(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if o, _ := holder(); o != "" {
		t.Fatalf("Holder after the release: %q, want none", o)
	}
}
