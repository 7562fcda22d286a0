package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/redisstore"
	"github.com/baton-rt/baton/internal/store/storetest"
	"github.com/baton-rt/baton/internal/testenv"
)

const maxEvents = 16

// uniquePrefix keeps tests (and parallel runs) on one Redis apart.
func uniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "batontest:store:" + hex.EncodeToString(b[:]) + ":"
}

// open makes a store on the test Redis under prefix.
func open(t *testing.T, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(testenv.Context(t, 20*time.Second), redisstore.Options{Addr: testenv.RedisAddr(t), Prefix: prefix, MaxEvents: maxEvents})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func rawClient(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// keys lists the keys under prefix.
func keys(t *testing.T, c *redis.Client, prefix string) []string {
	t.Helper()
	ks, err := c.Keys(testenv.Context(t, 20*time.Second), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ks)
	return ks
}

// deleteKeysAtEnd removes every key under prefix when t ends.
func deleteKeysAtEnd(t *testing.T, prefix string) {
	c := rawClient(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if ks, err := c.Keys(ctx, prefix+"*").Result(); err == nil && len(ks) > 0 {
			c.Del(ctx, ks...)
		}
	})
}

func TestSuite(t *testing.T) {
	prefixes := map[store.Store]string{}
	storetest.Run(t, func(t *testing.T) store.Store {
		p := uniquePrefix()
		deleteKeysAtEnd(t, p)
		s := open(t, p)
		prefixes[s] = p
		return s
	}, storetest.Config{
		MaxEvents: maxEvents,
		Reopen: func(t *testing.T, s store.Store) store.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, prefixes[s])
		},
		Peer: func(t *testing.T, s store.Store) store.Store {
			return open(t, prefixes[s])
		},
	})
}

// TestKeys checks that everything lives under the prefix, in the documented
// keys, and that another prefix sees none of it.
func TestKeys(t *testing.T) {
	ctx, p := testenv.Context(t, 20*time.Second), uniquePrefix()
	deleteKeysAtEnd(t, p)
	s := open(t, p)
	if _, err := s.CompareAndSetState(ctx, 0, []byte("s")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(ctx, store.Event{Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, "id", []byte("b")); err != nil {
		t.Fatal(err)
	}
	want := []string{p + "{store}:events", p + "{store}:session-ids", p + "{store}:sessions", p + "{store}:state"}
	if got := keys(t, rawClient(t), p); !slices.Equal(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}

	other := uniquePrefix()
	deleteKeysAtEnd(t, other)
	o := open(t, other)
	if _, err := o.GetState(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another prefix sees the state: %v", err)
	}
}

// TestCorruptEntry: an entry that this package did not write is reported.
func TestCorruptEntry(t *testing.T) {
	ctx, p := testenv.Context(t, 20*time.Second), uniquePrefix()
	deleteKeysAtEnd(t, p)
	s := open(t, p)
	if err := rawClient(t).XAdd(ctx, &redis.XAddArgs{Stream: p + "{store}:events", ID: "0-1", Values: []any{"e", "junk"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListEvents(ctx, 0, 0); err == nil {
		t.Fatal("ListEvents returned a junk entry without error")
	}
}

func TestOptions(t *testing.T) {
	ctx := testenv.Context(t, 20*time.Second)
	for name, opts := range map[string]redisstore.Options{
		"brace prefix":    {Prefix: "a{b"},
		"negative events": {MaxEvents: -1},
	} {
		if _, err := redisstore.New(ctx, opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	// Nothing listens on port 1: New fails instead of returning a dead store.
	if _, err := redisstore.New(ctx, redisstore.Options{Addr: "127.0.0.1:1"}); err == nil {
		t.Error("New with an unreachable Redis succeeded")
	}
}
