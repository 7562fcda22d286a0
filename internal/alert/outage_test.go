package alert

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

// down answers the first n requests as a receiver in an outage would: 503
// Service Unavailable, or (reset) by closing the connection without an
// answer, as a receiver restarting does; 202 after.
func down(n int, reset bool) func(int, http.ResponseWriter, *http.Request) {
	return func(i int, w http.ResponseWriter, _ *http.Request) {
		switch {
		case i > n:
			w.WriteHeader(http.StatusAccepted)
		case reset:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		}
	}
}

// A receiver that is down for longer than the retries last (PagerDuty or
// Slack failing for a minute, a receiver restarting) still gets the event
// once it is back: a rollback's page survives the outage.
func TestOutageOutlastingRetriesStillDelivers(t *testing.T) {
	for name, reset := range map[string]bool{"503": false, "connection reset": true} {
		t.Run(name, func(t *testing.T) {
			const downFor = 12 // requests: three times the 1+3 attempts
			rc := newReceiver(t, down(downFor, reset))
			// Waits are short: 1ms backoff doubling up to 10ms.
			d := newDispatcher(t, fastAlerts(config.WebhookGeneric, rc.srv.URL, 3), Options{MaxBackoff: 10 * time.Millisecond})
			if err := d.Notify(Event{Kind: KindRollbackStarted, RolloutID: "r-1"}); err != nil {
				t.Fatal(err)
			}
			s := waitStats(t, d, func(s Stats) bool { return s.Sent+s.Failed > 0 })
			if s != (Stats{Sent: 1, Retried: downFor}) {
				t.Fatalf("stats %+v after %d requests, want 1 sent after %d failed attempts", s, rc.hits(), downFor)
			}
		})
	}
}

// An outage that lasts is retried for OutageTimeout after the first
// attempt, no longer, and then counted as failed.
func TestOutageGivenUpAfterOutageTimeout(t *testing.T) {
	rc := newReceiver(t, down(1<<30, false))
	cfg := fastAlerts(config.WebhookGeneric, rc.srv.URL, 3)
	cfg.OutageTimeout = 300 * time.Millisecond
	d := newDispatcher(t, cfg, Options{MaxBackoff: 20 * time.Millisecond})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	first := rc.next(t)
	s := waitStats(t, d, func(s Stats) bool { return s.Failed == 1 })
	eq(t, "sent", s.Sent, uint64(0))
	if s.Retried <= 3 {
		t.Errorf("given up after %d retries, want more than the 3 retries", s.Retried)
	}
	var last request
	for range int(s.Retried) {
		last = rc.next(t)
	}
	// Each wait is planned to end within the timeout; a busy machine's
	// timers may fire late, hence the slack above it.
	if span := last.at.Sub(first.at); span > 2*cfg.OutageTimeout {
		t.Errorf("retried for %v, well past the %v OutageTimeout", span, cfg.OutageTimeout)
	} else if span < cfg.OutageTimeout/2 {
		t.Errorf("gave up after %v, well before the %v OutageTimeout", span, cfg.OutageTimeout)
	}
	rc.none(t, 50*time.Millisecond)
}

// With Retries negative nothing is retried, an outage included.
func TestOutageNotRetriedWithoutRetries(t *testing.T) {
	rc := newReceiver(t, down(1<<30, false))
	d := newDispatcher(t, fastAlerts(config.WebhookGeneric, rc.srv.URL, -1), Options{})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, d, func(s Stats) bool { return s.Failed == 1 })
	eq(t, "stats", s, Stats{Failed: 1})
	rc.next(t)
	rc.none(t, 50*time.Millisecond)
}

// While one receiver is down its events wait in its bounded queue, in
// order, the oldest dropped and counted when it overflows; another
// receiver gets every event meanwhile. Once the receiver is back it gets
// the event it was retrying and the queued ones, in order.
func TestOutageHoldsUpNoOtherReceiver(t *testing.T) {
	// The receiver that is down keeps the steps it saw, each retry of one
	// step once: it gets many requests, more than a receiver's channel holds.
	var (
		up    atomic.Bool
		mu    sync.Mutex
		steps []int
	)
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Step int }
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("body: %v", err)
		}
		if !up.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(steps) == 0 || steps[len(steps)-1] != ev.Step {
			steps = append(steps, ev.Step)
		}
	}))
	t.Cleanup(sick.Close)
	well := newReceiver(t, nil)
	cfg := fastAlerts(config.WebhookGeneric, sick.URL, 3)
	cfg.Webhooks = append(cfg.Webhooks, config.Webhook{Kind: config.WebhookGeneric, URL: well.srv.URL})
	d := newDispatcher(t, cfg, Options{QueueSize: 4, MaxBackoff: 10 * time.Millisecond})

	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	// Step 1 is in flight once the receiver has been asked for it twice: its
	// queue is empty.
	waitStats(t, d, func(s Stats) bool { return s.Retried > 0 })
	if got := stepOf(t, well.next(t)); got != 1 {
		t.Fatalf("healthy receiver: first request carried step %d", got)
	}
	const n = 10
	for i := 2; i <= n; i++ { // one at a time: the healthy queue never fills
		if err := d.Notify(step(i)); err != nil {
			t.Fatal(err)
		}
		if got := stepOf(t, well.next(t)); got != i {
			t.Fatalf("healthy receiver: request %d carried step %d", i, got)
		}
	}
	// Steps 2 to 6 made room for 7 to 10; step 1 is still being retried,
	// well past its 3 retries.
	s := waitStats(t, d, func(s Stats) bool { return s.Sent == n && s.Retried > 3 })
	if s.Failed != 0 || s.Dropped != n-1-4 {
		t.Fatalf("stats %+v during the outage, want none failed and %d dropped", s, n-1-4)
	}
	eq(t, "queued", d.sinks[0].len(), 4)

	up.Store(true)
	s = waitStats(t, d, func(s Stats) bool { return s.Sent == n+5 })
	mu.Lock()
	got := slices.Clone(steps)
	mu.Unlock()
	if want := []int{1, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("receiver back up got steps %v, want %v", got, want)
	}
	eq(t, "failed", s.Failed, uint64(0))
	eq(t, "dropped", s.Dropped, uint64(n-1-4))
}

// A receiver whose certificate the gateway does not trust is a mistake in
// the set-up, not an outage: the event is tried as many times as the
// retries allow, in case a certificate was being replaced, and then given
// up, rather than holding the events queued behind it for the outage
// timeout.
func TestUntrustedCertificateIsNotAnOutage(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes it refuses
	cfg := fastAlerts(config.WebhookGeneric, srv.URL, 3)
	cfg.OutageTimeout = time.Hour
	d := newDispatcher(t, cfg, Options{MaxBackoff: 10 * time.Millisecond})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, d, func(s Stats) bool { return s.Sent+s.Failed > 0 })
	if s != (Stats{Failed: 1, Retried: 3}) {
		t.Fatalf("stats %+v, want 1 failed after the 3 retries", s)
	}
}
