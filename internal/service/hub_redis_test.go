package service

import (
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestHubOverRedis runs the replay guarantee against the Redis broker, whose
// position probe and history paging differ from the memory broker's.
func TestHubOverRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	ctx := testenv.Context(t, 30*time.Second)
	b, err := redisbroker.New(ctx, redisbroker.Options{
		Addr:   addr,
		Prefix: fmt.Sprintf("baton:test:hub:%d:", time.Now().UnixNano()),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	h := newHub(t, b, HubOptions{MaxPending: 4})

	first := newRecorder()
	pos, err := h.Subscribe(ctx, "c", first)
	if err != nil || pos.Seq != 0 {
		t.Fatalf("Subscribe on a new channel = %+v, %v", pos, err)
	}
	publishN(t, ctx, b, "c", 50)
	const total = 300
	errc := make(chan error, 1)
	go func() {
		for range total - 50 {
			if _, err := b.Publish(ctx, "c", []byte(`1`)); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	late := newRecorder()
	if _, err := h.SubscribeSince(ctx, "c", late, 10); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	first.waitSeqs(t, 1, total)
	late.waitSeqs(t, 11, total-10)

	if _, err := h.SubscribeSince(ctx, "c", newRecorder(), total+1); err == nil {
		t.Fatal("since ahead of the channel: want an error")
	}
}
