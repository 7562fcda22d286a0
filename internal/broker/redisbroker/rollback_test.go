package redisbroker_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestStreamGoneBackAndOvertakenIsReset: a stream that went back (here to
// seq 5, as a restart from an older snapshot leaves it) and was published
// past the last seq delivered before the reader caught up (publishers
// reach the restarted Redis before the reader's reconnect, which backs
// off) hands out seqs 6 to 10 again, with other messages. The reader must
// not take seq 11 of that stream as the one after the seq 10 it delivered:
// the subscription is closed with broker.ErrStreamReset, and the next
// publish starts a new epoch.
func TestStreamGoneBackAndOvertakenIsReset(t *testing.T) {
	ctx := testenv.Context(t, 20*time.Second)
	prefix := uniquePrefix()
	b, name := namedBroker(t, prefix, redisbroker.Options{})
	pb := newBroker(t, redisbroker.Options{Prefix: prefix})
	sub, err := b.Subscribe(ctx, "ov")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	before := publishN(t, ctx, pb, "ov", 10)
	recv(t, ctx, sub, 10)
	// The stream as it stood after seq 5: its seq and its history.
	raw := rawClient(t)
	if err := raw.HSet(ctx, prefix+"{ov}:m", "seq", 5).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.LTrim(ctx, prefix+"{ov}:h", 0, 4).Err(); err != nil {
		t.Fatal(err)
	}
	release := b.HoldSubscriptions()
	killPubSub(t, name)
	// Seqs 6 to 12 of the stream that went back: 6 to 10 are handed out
	// a second time, for other messages.
	for i := range 7 {
		if _, err := pb.Publish(ctx, "ov", fmt.Appendf(nil, `"after %d"`, i)); err != nil {
			t.Fatal(err)
		}
	}
	release()

	for {
		select {
		case m, ok := <-sub.Messages():
			if !ok {
				if !errors.Is(sub.Err(), broker.ErrStreamReset) {
					t.Fatalf("subscription ended with %v, want ErrStreamReset", sub.Err())
				}
				m, err := pb.Publish(ctx, "ov", []byte(`1`))
				if err != nil || m.Seq != 1 || m.Epoch == before[0].Epoch {
					t.Fatalf("the next publish: seq %d of epoch %q (was %q), %v; want seq 1 of a new epoch", m.Seq, m.Epoch, before[0].Epoch, err)
				}
				return
			}
			t.Fatalf("got seq %d (%s) of epoch %s after seq 10 of the stream that went back: messages 6 to 10 of the new one were skipped unannounced", m.Seq, m.Data, m.Epoch)
		case <-ctx.Done():
			t.Fatal("subscription neither closed nor delivered after the reconnect")
		}
	}
}
