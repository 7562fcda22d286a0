package alert

import (
	"net/http"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

// throttled answers 429 to the first n requests, with Retry-After when
// retryAfter is set (Slack's rate limit) or without (PagerDuty's), and
// 202 after.
func throttled(n int, retryAfter string) func(int, http.ResponseWriter, *http.Request) {
	return func(i int, w http.ResponseWriter, _ *http.Request) {
		if i > n {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(http.StatusTooManyRequests)
	}
}

// A receiver that throttles for longer than the retries last still gets
// the event once the throttle ends: a rollback's page is not given up
// because PagerDuty or Slack asked to slow down.
func TestThrottleOutlastingRetriesStillDelivers(t *testing.T) {
	for kind, retryAfter := range map[string]string{config.WebhookPagerDuty: "", config.WebhookSlack: "1"} {
		t.Run(kind, func(t *testing.T) {
			const throttledFor = 12 // requests: three times the 1+3 attempts
			rc := newReceiver(t, throttled(throttledFor, retryAfter))
			cfg := fastAlerts(kind, rc.srv.URL, 3)
			if kind == config.WebhookPagerDuty {
				cfg.Webhooks[0].RoutingKey = "k"
			}
			// Waits are short: 1ms backoff doubling up to 10ms, a Retry-After
			// of 1s capped to 10ms.
			d := newDispatcher(t, cfg, Options{MaxBackoff: 10 * time.Millisecond})
			if err := d.Notify(Event{Kind: KindRollbackStarted, RolloutID: "r-1"}); err != nil {
				t.Fatal(err)
			}
			s := waitStats(t, d, func(s Stats) bool { return s.Sent+s.Failed > 0 })
			if s != (Stats{Sent: 1, Retried: throttledFor}) {
				t.Fatalf("stats %+v after %d requests, want 1 sent after %d throttled attempts", s, rc.hits(), throttledFor)
			}
		})
	}
}

// A throttle that lasts is retried for ThrottleTimeout after the first
// attempt, no longer, and then counted as failed.
func TestThrottleGivenUpAfterThrottleTimeout(t *testing.T) {
	rc := newReceiver(t, throttled(1<<30, ""))
	cfg := fastAlerts(config.WebhookPagerDuty, rc.srv.URL, 3)
	cfg.Webhooks[0].RoutingKey = "k"
	cfg.ThrottleTimeout = 300 * time.Millisecond
	d := newDispatcher(t, cfg, Options{MaxBackoff: 20 * time.Millisecond})
	if err := d.Notify(Event{Kind: KindRollbackStarted, RolloutID: "r-1"}); err != nil {
		t.Fatal(err)
	}
	first := rc.next(t)
	s := waitStats(t, d, func(s Stats) bool { return s.Failed == 1 })
	eq(t, "sent", s.Sent, uint64(0))
	if s.Retried <= 3 {
		t.Errorf("given up after %d retries, want more than the 3 that other failures get", s.Retried)
	}
	var last request
	for range int(s.Retried) {
		last = rc.next(t)
	}
	// Each wait is planned to end within the timeout; a busy machine's
	// timers may fire late, hence the slack above it.
	if span := last.at.Sub(first.at); span > 2*cfg.ThrottleTimeout {
		t.Errorf("retried for %v, well past the %v ThrottleTimeout", span, cfg.ThrottleTimeout)
	} else if span < cfg.ThrottleTimeout/2 {
		t.Errorf("gave up after %v, well before the %v ThrottleTimeout", span, cfg.ThrottleTimeout)
	}
	rc.none(t, 50*time.Millisecond)
}

// 408 Request Timeout is the receiver's timeout, not a wrong request: it
// is retried like a 5xx.
func TestRequestTimeoutRetried(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusRequestTimeout)
		}
	})
	d := newDispatcher(t, fastAlerts(config.WebhookSlack, rc.srv.URL, 3), Options{})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, d, func(s Stats) bool { return s.Sent+s.Failed > 0 })
	if s != (Stats{Sent: 1, Retried: 1}) {
		t.Fatalf("stats %+v, want 1 sent after 1 retry", s)
	}
}

// While a throttled event is retried the events behind it wait: an abort's
// resolve that PagerDuty throttles still reaches it before the emergency
// rollback's trigger that follows, which would otherwise be closed by it.
func TestThrottleKeepsOrder(t *testing.T) {
	rc := newReceiver(t, throttled(6, ""))
	cfg := fastAlerts(config.WebhookPagerDuty, rc.srv.URL, 3)
	cfg.Webhooks[0].RoutingKey = "k"
	d := newDispatcher(t, cfg, Options{MaxBackoff: 10 * time.Millisecond})
	for _, k := range []Kind{KindAborted, KindRollbackStarted} {
		if err := d.Notify(Event{Kind: k, RolloutID: "r-1"}); err != nil {
			t.Fatal(err)
		}
	}
	waitStats(t, d, func(s Stats) bool { return s.Sent == 2 })
	var actions []string
	for range rc.hits() {
		r := rc.next(t)
		if r.n > 6 {
			actions = append(actions, field(t, decode(t, r.body), "event_action").(string))
		}
	}
	if len(actions) != 2 || actions[0] != "resolve" || actions[1] != "trigger" {
		t.Fatalf("accepted actions %q, want resolve then trigger", actions)
	}
}
