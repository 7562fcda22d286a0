package redisstore_test

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/redisstore"
	"github.com/baton-rt/baton/internal/testenv"
)

// replyCutter forwards loopback connections to Redis and, once armed,
// closes the connection that carries the next reply instead of passing
// the reply on: Redis has run the command, its client never hears of it
// (a network cut, a proxy or a Redis going away at that moment).
type replyCutter struct {
	l      net.Listener
	target string
	armed  atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startReplyCutter(t *testing.T, target string) *replyCutter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyCutter{l: l, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *replyCutter) accept() {
	for {
		a, err := p.l.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = a.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, a, b)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(a, b, false) })
		p.wg.Go(func() { p.pipe(b, a, true) })
	}
}

func (p *replyCutter) pipe(src, dst net.Conn, replies bool) {
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if replies && p.armed.CompareAndSwap(true, false) {
				return // the reply is lost with the connection
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A state write that Redis made but whose reply was lost is not reported
// as a conflict: the caller (the rollout controller) would take its own
// write for another writer's. go-redis sends the script again on a new
// connection after the cut; that second run must know the write is its
// own.
func TestLostReplyOfAStateWriteIsNoConflict(t *testing.T) {
	ctx, p := testenv.Context(t, 20*time.Second), uniquePrefix()
	deleteKeysAtEnd(t, p)
	cut := startReplyCutter(t, testenv.RedisAddr(t))
	s, err := redisstore.New(ctx, redisstore.Options{Addr: cut.l.Addr().String(), Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.CompareAndSetState(ctx, 0, []byte("first")); err != nil {
		t.Fatal(err)
	}

	cut.armed.Store(true)
	v, err := s.CompareAndSetState(ctx, 1, []byte("second"))
	if cut.armed.Load() {
		t.Fatal("no reply was cut")
	}
	t.Logf("after the cut: version %d, %v", v, err)
	if errors.Is(err, store.ErrConflict) {
		t.Fatalf("CompareAndSetState whose reply was lost: %v; the stored version 2 is its own write", err)
	}
	if err == nil && v != 2 {
		t.Fatalf("CompareAndSetState whose reply was lost: version %d, want 2", v)
	}
	got, gerr := s.GetState(ctx)
	if gerr != nil || got.Version != 2 || string(got.Blob) != "second" {
		t.Fatalf("stored state %d %q, %v", got.Version, got.Blob, gerr)
	}
	// A write from another handle at the same version is still a conflict.
	if _, err := s.CompareAndSetState(ctx, 1, []byte("second")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second call with the same version and blob: %v, want a conflict", err)
	}
}

// An append that Redis made but whose reply was lost is stored once: the
// event log is what an operator reads after a rollback (and what the
// controller replays), and go-redis sends the command again on a new
// connection after the cut.
func TestLostReplyOfAnAppendAddsItOnce(t *testing.T) {
	ctx, p := testenv.Context(t, 20*time.Second), uniquePrefix()
	deleteKeysAtEnd(t, p)
	cut := startReplyCutter(t, testenv.RedisAddr(t))
	s, err := redisstore.New(ctx, redisstore.Options{Addr: cut.l.Addr().String(), Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.AppendEvent(ctx, store.Event{Kind: "step_passed"}); err != nil {
		t.Fatal(err)
	}

	cut.armed.Store(true)
	seq, err := s.AppendEvent(ctx, store.Event{Kind: "rolled_back"})
	if cut.armed.Load() {
		t.Fatal("no reply was cut")
	}
	t.Logf("after the cut: seq %d, %v", seq, err)
	if err == nil && seq != 2 {
		t.Errorf("AppendEvent whose reply was lost: seq %d, want 2", seq)
	}
	evs, err := s.ListEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, fmt.Sprintf("%d:%s", e.Seq, e.Kind))
	}
	if want := []string{"1:step_passed", "2:rolled_back"}; !slices.Equal(kinds, want) {
		t.Fatalf("events after an append whose reply was lost: %q, want %q", kinds, want)
	}
	// The same event appended again by a new call is a new event.
	if seq, err := s.AppendEvent(ctx, store.Event{Kind: "rolled_back"}); err != nil || seq != 3 {
		t.Fatalf("a second append of the same event: seq %d, %v; want 3", seq, err)
	}
}
