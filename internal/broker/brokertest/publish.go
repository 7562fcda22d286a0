package brokertest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/testenv"
)

func (s *suite) testInvalidChannel(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	for _, name := range []string{"", strings.Repeat("x", broker.MaxChannelLen+1)} {
		if _, err := b.Publish(ctx, name, []byte(`1`)); !errors.Is(err, broker.ErrInvalidChannel) {
			t.Errorf("Publish(len %d) error = %v, want ErrInvalidChannel", len(name), err)
		}
		if sub, err := b.Subscribe(ctx, name); !errors.Is(err, broker.ErrInvalidChannel) {
			t.Errorf("Subscribe(len %d) error = %v, want ErrInvalidChannel", len(name), err)
			if sub != nil {
				_ = sub.Close()
			}
		}
		if _, _, err := b.History(ctx, name, 0, 0); !errors.Is(err, broker.ErrInvalidChannel) {
			t.Errorf("History(len %d) error = %v, want ErrInvalidChannel", len(name), err)
		}
	}
	// Unusual but valid names must work end to end: they may end up in keys
	// or pub/sub channel names of a backing store.
	for _, name := range []string{
		strings.Repeat("y", broker.MaxChannelLen),
		"a{b}:c*?[x]", "with space", "ünïcödé", "nul\x00byte", "line\nbreak", "}{", "*",
	} {
		sub := subscribe(t, ctx, b, name)
		m := publish(t, ctx, b, name, []byte(`"x"`))
		got := recvN(t, ctx, sub, 1)
		hist, _, err := b.History(ctx, name, 0, 0)
		if err != nil {
			t.Fatalf("History(%q): %v", name, err)
		}
		checkSame(t, fmt.Sprintf("live %q", name), got, []broker.Message{m})
		checkSame(t, fmt.Sprintf("history %q", name), hist, []broker.Message{m})
	}
}

func (s *suite) testPublishAssignsSeqs(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	msgs := publishN(t, ctx, b, "seqs", 5)
	if msgs[0].Epoch == "" {
		t.Fatal("Publish returned an empty epoch")
	}
	checkSeqs(t, "published", msgs, "seqs", 1, msgs[0].Epoch)
	for i, m := range msgs {
		if want := fmt.Sprintf(`{"n":%d}`, i); string(m.Data) != want {
			t.Fatalf("published[%d].Data = %q, want %q", i, m.Data, want)
		}
	}
}

// rawPayloads are published verbatim and must come back byte for byte.
var rawPayloads = [][]byte{
	[]byte(`{ "a" :  1 ,"b":[1,2 ,3]  , "c" : "x\u00e9y"}`),
	[]byte("  42\t\r\n"),
	[]byte(`"é \" \\ ünï"`),
	[]byte("not json: 1:2:3 and spaces"),
	{0x00, 0xff, 0xfe, 0x1e, '\n', 0x80, ':', ' '},
	{},
	bytes.Repeat([]byte(`{"k":"v"},`), 6000),
}

func (s *suite) testRawBytes(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	sub := subscribe(t, ctx, b, "raw")
	var want []broker.Message
	for _, p := range rawPayloads {
		buf := append([]byte(nil), p...)
		m := publish(t, ctx, b, "raw", buf)
		if !bytes.Equal(m.Data, p) {
			t.Fatalf("Publish returned Data %q, want %q", m.Data, p)
		}
		for i := range buf { // the broker must not keep the caller's buffer
			buf[i] = '#'
		}
		want = append(want, broker.Message{Channel: "raw", Seq: m.Seq, Epoch: m.Epoch, Data: p})
	}
	checkSame(t, "live", recvN(t, ctx, sub, len(want)), want)
	hist, _, err := b.History(ctx, "raw", 0, 0)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	checkSame(t, "history", hist, want)
}

func (s *suite) testOrderedDelivery(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	subs := []broker.Subscription{
		subscribe(t, ctx, b, "ordered"), subscribe(t, ctx, b, "ordered"), subscribe(t, ctx, b, "ordered"),
	}
	want := publishN(t, ctx, b, "ordered", 50)
	for i, sub := range subs {
		checkSame(t, fmt.Sprintf("subscriber %d", i), recvN(t, ctx, sub, len(want)), want)
	}
}

// testConcurrentPublishers: N publishers × M messages; every subscriber
// sees seqs 1..N*M exactly once, in order, and each publisher's messages in
// the order it published them.
func (s *suite) testConcurrentPublishers(t *testing.T) {
	const publishers, perPublisher = 4, 100
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	subs := make([]broker.Subscription, 3)
	for i := range subs {
		subs[i] = subscribe(t, ctx, b, "concurrent")
	}

	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				if _, err := b.Publish(ctx, "concurrent", fmt.Appendf(nil, "%d/%d", p, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}

	results := make([][]broker.Message, len(subs))
	var rg sync.WaitGroup
	for i, sub := range subs {
		rg.Go(func() {
			for range publishers * perPublisher {
				m, err := next(ctx, sub)
				if err != nil {
					errs <- err
					return
				}
				results[i] = append(results[i], m)
			}
		})
	}
	wg.Wait()
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for i, got := range results {
		checkSeqs(t, fmt.Sprintf("subscriber %d", i), got, "concurrent", 1, got[0].Epoch)
		nextOf := make([]int, publishers)
		for _, m := range got {
			var p, n int
			if _, err := fmt.Sscanf(string(m.Data), "%d/%d", &p, &n); err != nil || p < 0 || p >= publishers {
				t.Fatalf("subscriber %d: unexpected data %q", i, m.Data)
			}
			if n != nextOf[p] {
				t.Fatalf("subscriber %d: publisher %d message %d arrived when %d was due", i, p, n, nextOf[p])
			}
			nextOf[p]++
		}
		if i > 0 {
			checkSame(t, fmt.Sprintf("subscriber %d vs 0", i), got, results[0])
		}
	}
	hist, pos, err := b.History(ctx, "concurrent", publishers*perPublisher-10, 0)
	if err != nil || pos.Seq != publishers*perPublisher {
		t.Fatalf("History after concurrent publishes: pos %+v, err %v", pos, err)
	}
	checkSame(t, "history tail", hist, results[0][len(results[0])-10:])
}

func (s *suite) testChannelsAreSeparate(t *testing.T) {
	b, ctx := s.newBroker(t), testenv.Context(t, Timeout)
	subA, subB := subscribe(t, ctx, b, "sep-a"), subscribe(t, ctx, b, "sep-b")
	var wantA, wantB []broker.Message
	for i := range 10 {
		wantA = append(wantA, publish(t, ctx, b, "sep-a", fmt.Appendf(nil, "a%d", i)))
		if i%2 == 0 {
			wantB = append(wantB, publish(t, ctx, b, "sep-b", fmt.Appendf(nil, "b%d", i)))
		}
	}
	checkSeqs(t, "channel a", wantA, "sep-a", 1, wantA[0].Epoch)
	checkSeqs(t, "channel b", wantB, "sep-b", 1, wantB[0].Epoch)
	checkSame(t, "subscriber a", recvN(t, ctx, subA, len(wantA)), wantA)
	checkSame(t, "subscriber b", recvN(t, ctx, subB, len(wantB)), wantB)
	// Nothing else is pending on b: the next message it sees is the next
	// one published to it.
	last := publish(t, ctx, b, "sep-b", []byte(`"end"`))
	checkSame(t, "subscriber b end", recvN(t, ctx, subB, 1), []broker.Message{last})
}
