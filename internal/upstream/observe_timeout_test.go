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
	rec := newMonitor(t)
	d := upstream.Observe(&upstream.LegacyDialer{Options: upstream.Options{URL: url, RequestTimeout: 50 * time.Millisecond}}, rec)
	c, err := d.Dial(testenv.Context(t, 10*time.Second), &orderLog{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan error, 1)
	// As the edge calls it: the client's context, no deadline of its own.
	if err := c.PublishAsync(context.Background(), "obs", []byte(`1`), func(_ uint64, err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("reply %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply")
	}
	want := health.Counts{Requests: 2, AckTimeouts: 1} // the dial counts once
	if s := rec.Snapshot().Counts; s != want {
		t.Errorf("counts %+v, want %+v", s, want)
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
	rec := newMonitor(t)
	d := upstream.Observe(&upstream.LegacyDialer{Options: upstream.Options{URL: url}}, rec)
	c, err := d.Dial(testenv.Context(t, 10*time.Second), &orderLog{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	if err := c.PublishAsync(ctx, "obs", []byte(`1`), func(_ uint64, err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	cancel() // the client went
	close(release)
	select {
	case err := <-got:
		if !upstream.IsCode(err, "forbidden") {
			t.Fatalf("reply %v, want the refusal", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply")
	}
	want := health.Counts{Requests: 2, ErrorReplies: 1} // the dial counts once
	if s := rec.Snapshot().Counts; s != want {
		t.Errorf("counts %+v, want %+v", s, want)
	}
}
