package sleep

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestForAndUntil(t *testing.T) {
	if err := For(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("For a full wait: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := For(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("For on a canceled context: %v", err)
	}
	if err := Until(ctx, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Until on a canceled context: %v", err)
	}
	if time.Since(start) > time.Minute {
		t.Fatal("a canceled context did not end the waits")
	}
	if err := Until(context.Background(), time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("Until a time past: %v", err)
	}
	if err := Until(context.Background(), time.Now().Add(time.Millisecond)); err != nil {
		t.Fatalf("Until a near time: %v", err)
	}
}
