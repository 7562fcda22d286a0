package upstream_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// A legacy connection pings a backend that has been silent for
// PingInterval; one that answers stays up, ping after ping, and one that
// answers nothing within PingTimeout is ended with ErrHeartbeatTimeout, as
// a drop, rather than left attached and silent.
func TestLegacyHeartbeat(t *testing.T) {
	opts := func(url string) upstream.Options {
		return upstream.Options{URL: url, PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond}
	}

	var pings atomic.Int64
	pinged := make(chan struct{}, 1)
	alive := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
		if f.Type != legacy.TypePing {
			return nil
		}
		pings.Add(1)
		select {
		case pinged <- struct{}{}:
		default:
		}
		return []legacy.Frame{{Type: legacy.TypePong, ID: f.ID}}
	})
	h := newRecorder()
	c := dialScriptedWith(t, opts(alive), h)
	for pings.Load() < 5 {
		select {
		case <-pinged:
		case <-c.Done():
			t.Fatalf("connection to a backend answering its pings ended after %d: %v", pings.Load(), c.Err())
		case <-time.After(10 * time.Second):
			t.Fatalf("%d pings in 10s, want 5", pings.Load())
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	if len(h.events) != 0 || h.err != nil {
		t.Errorf("events %v, end %v: a pong is the heartbeat's, not the handler's", h.events, h.err)
	}
	h.mu.Unlock()

	silent := scriptedLegacy(t, func(legacy.Frame) []legacy.Frame { return nil })
	h = newRecorder()
	start := time.Now()
	c = dialScriptedWith(t, opts(silent), h)
	h.waitFor(t, "the silent backend's connection to end", func(_ []upstream.Event, closed bool) bool { return closed })
	t.Logf("silent backend dropped after %v", time.Since(start))
	if err := c.Err(); !errors.Is(err, upstream.ErrHeartbeatTimeout) {
		t.Fatalf("end %v, want ErrHeartbeatTimeout", err)
	}
}

// A legacy backend that does not know the heartbeat's ping but answers
// it, as an unknown request, with an error frame is alive: the heartbeat
// asks for any frame, not for a pong (docs/config.md,
// backends.<color>.ping_timeout). Its connection stays up, ping after
// ping.
func TestLegacyHeartbeatTakesAnyFrame(t *testing.T) {
	var pings atomic.Int64
	pinged := make(chan struct{}, 1)
	url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
		if f.Type != legacy.TypePing {
			return nil
		}
		pings.Add(1)
		select {
		case pinged <- struct{}{}:
		default:
		}
		return []legacy.Frame{{Type: legacy.TypeError, ID: f.ID, Code: "bad_request", Message: "unknown type"}}
	})
	c := dialScriptedWith(t, upstream.Options{URL: url, PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond}, newRecorder())
	for pings.Load() < 5 {
		select {
		case <-pinged:
		case <-c.Done():
			t.Fatalf("connection to a backend answering its pings with errors ended after %d: %v", pings.Load(), c.Err())
		case <-time.After(10 * time.Second):
			t.Fatalf("%d pings in 10s, want 5", pings.Load())
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
