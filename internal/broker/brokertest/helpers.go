package brokertest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/baton-rt/baton/internal/broker"
)

func publish(t *testing.T, ctx context.Context, b broker.Broker, channel string, data []byte) broker.Message {
	t.Helper()
	m, err := b.Publish(ctx, channel, data)
	if err != nil {
		t.Fatalf("Publish(%q): %v", channel, err)
	}
	return m
}

// publishN publishes n messages "<prefix><i>" and returns them.
func publishN(t *testing.T, ctx context.Context, b broker.Broker, channel string, n int) []broker.Message {
	t.Helper()
	out := make([]broker.Message, n)
	for i := range out {
		out[i] = publish(t, ctx, b, channel, fmt.Appendf(nil, `{"n":%d}`, i))
	}
	return out
}

func subscribe(t *testing.T, ctx context.Context, b broker.Broker, channel string) broker.Subscription {
	t.Helper()
	s, err := b.Subscribe(ctx, channel)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", channel, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// next waits for one message; it fails if the subscription ends first.
func next(ctx context.Context, s broker.Subscription) (broker.Message, error) {
	select {
	case m, ok := <-s.Messages():
		if !ok {
			return broker.Message{}, fmt.Errorf("subscription closed early: Err() = %v", s.Err())
		}
		return m, nil
	case <-ctx.Done():
		return broker.Message{}, fmt.Errorf("waiting for a message: %w", ctx.Err())
	}
}

func recvN(t *testing.T, ctx context.Context, s broker.Subscription, n int) []broker.Message {
	t.Helper()
	out := make([]broker.Message, 0, n)
	for len(out) < n {
		m, err := next(ctx, s)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

// drain reads until Messages is closed and returns what it read.
func drain(t *testing.T, ctx context.Context, s broker.Subscription) []broker.Message {
	t.Helper()
	var out []broker.Message
	for {
		select {
		case m, ok := <-s.Messages():
			if !ok {
				return out
			}
			out = append(out, m)
		case <-ctx.Done():
			t.Fatalf("subscription not closed after %d messages: %v", len(out), ctx.Err())
		}
	}
}

// checkSeqs fails unless msgs are exactly seqs first, first+1, ... of one
// epoch on channel.
func checkSeqs(t *testing.T, what string, msgs []broker.Message, channel string, first uint64, epoch string) {
	t.Helper()
	for i, m := range msgs {
		want := first + uint64(i)
		if m.Seq != want || m.Channel != channel || m.Epoch != epoch {
			t.Fatalf("%s[%d] = {channel %q seq %d epoch %q}, want {channel %q seq %d epoch %q}",
				what, i, m.Channel, m.Seq, m.Epoch, channel, want, epoch)
		}
	}
}

// checkSame fails unless got carries the same seqs and bytes as want.
func checkSame(t *testing.T, what string, got, want []broker.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Channel != w.Channel || g.Seq != w.Seq || g.Epoch != w.Epoch || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s[%d] = {%q %d %q %q}, want {%q %d %q %q}", what, i,
				g.Channel, g.Seq, g.Epoch, g.Data, w.Channel, w.Seq, w.Epoch, w.Data)
		}
	}
}
