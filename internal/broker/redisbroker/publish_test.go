package redisbroker_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// replyCutter forwards loopback connections to Redis; once armed, it
// passes on the next command a client sends but closes that connection
// instead of passing Redis' reply back, as a connection that breaks right
// after Redis ran a command does.
type replyCutter struct {
	l     net.Listener
	armed atomic.Bool
	wg    sync.WaitGroup
}

func startReplyCutter(t *testing.T, target string) *replyCutter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &replyCutter{l: l}
	var mu sync.Mutex
	var conns []net.Conn
	c.wg.Go(func() {
		for {
			a, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				_ = a.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, a, b)
			mu.Unlock()
			var cut atomic.Bool
			c.wg.Go(func() { // client to Redis
				defer a.Close()
				defer b.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := a.Read(buf)
					if n > 0 {
						if c.armed.CompareAndSwap(true, false) {
							cut.Store(true)
						}
						if _, err := b.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
			c.wg.Go(func() { // Redis to client
				defer a.Close()
				defer b.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := b.Read(buf)
					if cut.Load() {
						return
					}
					if n > 0 {
						if _, err := a.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		c.wg.Wait()
	})
	return c
}

// TestPublishWhoseReplyIsLostIsNotRepeated: a publish that Redis ran but
// whose reply was lost with its connection must not be run again: every
// subscriber would get the message twice, under two seqs.
func TestPublishWhoseReplyIsLostIsNotRepeated(t *testing.T) {
	prefix := uniquePrefix()
	cut := startReplyCutter(t, testenv.RedisAddr(t))
	ctx := testenv.Context(t, 20*time.Second)
	pb := newBroker(t, redisbroker.Options{Prefix: prefix})
	sb, err := redisbroker.New(ctx, redisbroker.Options{Addr: cut.l.Addr().String(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	if _, err := sb.Publish(ctx, "d", []byte("first")); err != nil { // loads the script
		t.Fatal(err)
	}
	cut.armed.Store(true)
	if m, err := sb.Publish(ctx, "d", []byte("second")); err == nil {
		t.Logf("the publish whose reply was lost returned seq %d", m.Seq)
	}
	msgs, _, err := pb.History(ctx, "d", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		for _, m := range msgs {
			t.Logf("seq %d: %q", m.Seq, m.Data)
		}
		t.Fatalf("history holds %d messages after two publishes", len(msgs))
	}
}

// TestPublishRightAfterAnOutageWaitsForTheDialBreaker: a publish made while
// go-redis' dial breaker still fails commands without dialing (see
// TestCatchUpWaitsForTheDialBreaker) sent nothing, and must be sent once
// Redis is back rather than fail.
func TestPublishRightAfterAnOutageWaitsForTheDialBreaker(t *testing.T) {
	pb, sb, redisDown, redisUp := breakerBrokers(t)
	ctx := testenv.Context(t, 20*time.Second)
	redisDown()
	// One refused dial: the breaker is open for the next second.
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := sb.Publish(dctx, "p", []byte("lost"))
	cancel()
	if err == nil {
		t.Fatal("Publish while Redis is unreachable succeeded")
	}
	redisUp()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := sb.Publish(pctx, "p", []byte("x"))
	if err != nil {
		t.Fatalf("Publish once Redis is back: %v", err)
	}
	msgs, _, err := pb.History(ctx, "p", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Seq != m.Seq {
		t.Fatalf("history %+v after one publish that went through (seq %d)", msgs, m.Seq)
	}
}
