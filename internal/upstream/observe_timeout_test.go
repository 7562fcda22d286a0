package upstream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// A PublishAsync whose answer never comes, given up by the connection's
// own timer (Options.RequestTimeout) while its context has no deadline, as
// the edge calls it, counts as an ack timeout.
func TestObservePublishAsyncTimeoutIsAnAckTimeout(t *testing.T) {
	url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame { return nil }) // never answers
	// As the edge calls it: the client's context, no deadline of its own.
	counts, err := observedPublishAsync(t, upstream.Options{URL: url, RequestTimeout: 50 * time.Millisecond}, func(context.CancelFunc) {})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reply %v, want a timeout", err)
	}
	if want := (health.Counts{Requests: 2, AckTimeouts: 1}); counts != want { // the dial counts once
		t.Errorf("counts %+v, want %+v", counts, want)
	}
}

// A PublishAsync whose client left before the answer (its context
// canceled, as the edge's is when the client goes) still counts the
// backend's answer: a refusal, as a success would be.
func TestObservePublishAsyncRefusedAfterTheClientLeft(t *testing.T) {
	release := make(chan struct{})
	url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
		if f.Type != legacy.TypePublish {
			return nil
		}
		<-release
		return []legacy.Frame{{Type: legacy.TypeError, ID: f.ID, Code: "forbidden", Message: "no", Channel: f.Channel}}
	})
	counts, err := observedPublishAsync(t, upstream.Options{URL: url}, func(cancel context.CancelFunc) {
		cancel() // the client went
		close(release)
	})
	if !upstream.IsCode(err, "forbidden") {
		t.Fatalf("reply %v, want the refusal", err)
	}
	if want := (health.Counts{Requests: 2, ErrorReplies: 1}); counts != want { // the dial counts once
		t.Errorf("counts %+v, want %+v", counts, want)
	}
}

// observedPublishAsync dials o through Observe, sends one PublishAsync,
// runs then (given the cancel of the publish's context) and returns the
// health counts after the reply, and the reply's error.
func observedPublishAsync(t *testing.T, o upstream.Options, then func(context.CancelFunc)) (health.Counts, error) {
	t.Helper()
	rec := newMonitor(t)
	c, err := upstream.Observe(&upstream.LegacyDialer{Options: o}, rec).Dial(testenv.Context(t, 10*time.Second), &orderLog{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan error, 1)
	if err := c.PublishAsync(ctx, "obs", []byte(`1`), func(_ uint64, err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	then(cancel)
	select {
	case err = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no reply")
	}
	return rec.Snapshot().Counts, err
}
