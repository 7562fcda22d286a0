package cli

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/legacyclient"
)

// TestServeFaultErrorRate: --fault-error-rate 0.5 refuses every second
// publish (the refusals are spread evenly), and subscribes still work.
func TestServeFaultErrorRate(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	urls, stop := startServe(t, "--legacy", "127.0.0.1:0", "--drain", "100ms", "--fault-error-rate", "0.5")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := legacyclient.Dial(ctx, strings.Replace(urls["legacy"], "http://", "ws://", 1), legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, "f", nil); err != nil {
		t.Fatalf("subscribe under faults: %v", err)
	}
	refused := 0
	for range 10 {
		if _, err := c.Publish(ctx, "f", []byte(`{"n":1}`)); err != nil {
			refused++
		}
	}
	_ = c.Close()
	if refused != 5 {
		t.Errorf("%d of 10 publishes refused, want 5", refused)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

func TestServeFaultFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--legacy", "127.0.0.1:0", "--fault-error-rate", "1.5"},
		{"--legacy", "127.0.0.1:0", "--fault-error-rate", "-0.1"},
		{"--legacy", "127.0.0.1:0", "--fault-latency", "-1s"},
	} {
		root := newRoot()
		root.SetArgs(append([]string{"serve"}, args...))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := root.ExecuteContext(ctx)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("serve %v: %v, want a flag error", args, err)
		}
	}
}
