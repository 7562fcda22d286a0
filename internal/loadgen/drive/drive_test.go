package drive

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
)

func TestIntAfter(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`{"seq":42,"id":1}`, 42, true},
		{`{"seq":`, 0, false},
		{`{"seq":x}`, 0, false},
		{`{"id":1}`, 0, false},
		{`"seq":99999999999999999999999`, 999999999999999999, true},
	} {
		got, ok := IntAfter([]byte(tt.in), []byte(`"seq":`))
		if got != tt.want || ok != tt.ok {
			t.Errorf("IntAfter(%q) = %d,%v; want %d,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEach(t *testing.T) {
	var calls atomic.Int64
	seen := make([]atomic.Bool, 100)
	if err := Each(context.Background(), 100, 4, func(i int) error {
		calls.Add(1)
		seen[i].Store(true)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if !seen[i].Load() {
			t.Fatalf("index %d not visited", i)
		}
	}
	if calls.Load() != 100 {
		t.Errorf("%d calls, want 100", calls.Load())
	}

	boom := errors.New("boom")
	calls.Store(0)
	err := Each(context.Background(), 1000, 2, func(i int) error {
		calls.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls.Load() >= 1000 {
		t.Errorf("err = %v after %d calls; want boom, early stop", err, calls.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Each(ctx, 10, 2, func(int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
	if err := Each(ctx, 0, 2, func(int) error { return nil }); err != nil {
		t.Errorf("no work, cancelled context: err = %v", err)
	}
}

func TestDialAll(t *testing.T) {
	var tries [6]atomic.Int64
	dial := func(i int) (*int, error) {
		if tries[i].Add(1) == 1 && i%2 == 0 {
			return nil, errors.New("first dial fails") // retried once
		}
		return &i, nil
	}
	got, err := DialAll(context.Background(), 6, 2, dial)
	if err != nil || len(got) != 6 {
		t.Fatalf("DialAll = %d clients, %v; want 6, nil", len(got), err)
	}
	for i, c := range got {
		if *c != i {
			t.Errorf("client %d is %d; want index order", i, *c)
		}
	}

	down := errors.New("down")
	got, err = DialAll(context.Background(), 6, 1, func(i int) (*int, error) {
		if i == 3 {
			return nil, down
		}
		return &i, nil
	})
	if !errors.Is(err, down) || len(got) != 3 {
		t.Errorf("DialAll with a dead index = %d clients, %v; want 3, down", len(got), err)
	}
}

func FuzzIntAfter(f *testing.F) {
	f.Add([]byte(`{"type":"ack","id":3,"seq":41}`), []byte(`"seq":`))
	f.Add([]byte(`{"ts":1732870000000000,"pad":"x"}`), []byte(`"ts":`))
	f.Fuzz(func(t *testing.T, b, key []byte) {
		n, ok := IntAfter(b, key)
		if n < 0 || (!ok && n != 0) {
			t.Fatalf("IntAfter(%q, %q) = %d, %v", b, key, n, ok)
		}
		// n is what strconv reads from the digits (at most 18) right
		// after the first key, ok whether there is one.
		var digits []byte
		if i := bytes.Index(b, key); i >= 0 {
			rest := b[i+len(key):]
			for len(digits) < 18 && len(rest) > len(digits) && rest[len(digits)] >= '0' && rest[len(digits)] <= '9' {
				digits = rest[:len(digits)+1]
			}
		}
		want, err := strconv.ParseInt(string(digits), 10, 64)
		if ok != (len(digits) > 0) || ok && (err != nil || n != want) {
			t.Fatalf("IntAfter(%q, %q) = %d, %v; digits %q", b, key, n, ok, digits)
		}
	})
}
