package alert

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

func step(n int) Event {
	return Event{Kind: KindStepPassed, RolloutID: "r-1", Step: n, Weight: float64(10 * n)}
}

// stepOf reads the step back from a generic payload.
func stepOf(t *testing.T, r request) int {
	t.Helper()
	return int(decode(t, r.body)["step"].(float64))
}

func TestRetryOn500ThenSuccess(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			http.Error(w, "busy", http.StatusInternalServerError)
		}
	})
	d := newDispatcher(t, fastAlerts(config.WebhookGeneric, rc.srv.URL, 3), Options{})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, d, func(s Stats) bool { return s.Sent == 1 })
	if s != (Stats{Sent: 1, Retried: 2}) {
		t.Errorf("stats %+v, want 1 sent after 2 retries", s)
	}
	for i := 1; i <= 3; i++ {
		if got := stepOf(t, rc.next(t)); got != 1 {
			t.Errorf("attempt %d carried step %d", i, got)
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	cfg := fastAlerts(config.WebhookGeneric, rc.srv.URL, 2)
	cfg.OutageTimeout = time.Nanosecond // over once the retries are: they alone count
	d := newDispatcher(t, cfg, Options{})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, d, func(s Stats) bool { return s.Failed == 1 })
	if s != (Stats{Failed: 1, Retried: 2}) || rc.hits() != 3 {
		t.Errorf("stats %+v after %d requests, want 1 failed after 3 attempts", s, rc.hits())
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusFound} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if code == http.StatusFound {
					w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
				}
				http.Error(w, "invalid_payload", code)
			})
			d := newDispatcher(t, fastAlerts(config.WebhookSlack, rc.srv.URL, 3), Options{})
			if err := d.Notify(step(1)); err != nil {
				t.Fatal(err)
			}
			s := waitStats(t, d, func(s Stats) bool { return s.Failed == 1 })
			if s.Retried != 0 || s.Sent != 0 {
				t.Errorf("stats %+v, want no retry", s)
			}
			rc.next(t)
			rc.none(t, 50*time.Millisecond)
		})
	}
}

func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	// Backoff is 1ms: only Retry-After can make the retry wait a second.
	d := newDispatcher(t, fastAlerts(config.WebhookGeneric, rc.srv.URL, 3), Options{})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	first, second := rc.next(t), rc.next(t)
	if gap := second.at.Sub(first.at); gap < 900*time.Millisecond {
		t.Errorf("retried after %v, want at least the 1s Retry-After", gap)
	}
	s := waitStats(t, d, func(s Stats) bool { return s.Sent == 1 })
	eq(t, "retried", s.Retried, uint64(1))
}

func TestRetryAfterCappedByMaxBackoff(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	d := newDispatcher(t, fastAlerts(config.WebhookGeneric, rc.srv.URL, 1), Options{MaxBackoff: 20 * time.Millisecond})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	waitStats(t, d, func(s Stats) bool { return s.Sent == 1 && s.Retried == 1 })
}

func TestNetworkErrorRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close() // nothing listens: connection refused

	var logs strings.Builder
	cfg := fastAlerts(config.WebhookGeneric, url, 1)
	cfg.OutageTimeout = time.Nanosecond // over once the retry is: it alone counts
	d := newDispatcher(t, cfg, Options{Logger: slogTo(&logs)})
	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, d, func(s Stats) bool { return s.Failed == 1 })
	eq(t, "retried", s.Retried, uint64(1))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "/hook") {
		t.Errorf("logs reveal the webhook URL:\n%s", logs.String())
	}
}

func TestHangingReceiverDoesNotBlockNotify(t *testing.T) {
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	cfg := fastAlerts(config.WebhookGeneric, rc.srv.URL, -1)
	cfg.Timeout = 50 * time.Millisecond
	d := newDispatcher(t, cfg, Options{QueueSize: 4})

	// If Notify waited on the receiver, this goroutine would never finish.
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 1; i <= 3 && err == nil; i++ {
			err = d.Notify(step(i))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Notify blocked on a hanging receiver")
	}
	// Each attempt times out on its own and the worker moves on.
	s := waitStats(t, d, func(s Stats) bool { return s.Failed == 3 })
	eq(t, "sent", s.Sent, uint64(0))
	for i := 1; i <= 3; i++ {
		if got := stepOf(t, rc.next(t)); got != i {
			t.Errorf("request %d carried step %d", i, got)
		}
	}
}

func TestOverflowDropsOldest(t *testing.T) {
	unblock := make(chan struct{})
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-unblock:
			case <-r.Context().Done():
			}
		}
	})
	d := newDispatcher(t, fastAlerts(config.WebhookGeneric, rc.srv.URL, -1), Options{QueueSize: 2})

	if err := d.Notify(step(1)); err != nil {
		t.Fatal(err)
	}
	if got := stepOf(t, rc.next(t)); got != 1 { // step 1 is in flight: the queue is empty
		t.Fatalf("first request carried step %d", got)
	}
	for i := 2; i <= 5; i++ {
		if err := d.Notify(step(i)); err != nil {
			t.Fatal(err)
		}
	}
	eq(t, "dropped", d.Stats().Dropped, uint64(2)) // steps 2 and 3 made room for 4 and 5
	close(unblock)
	for _, want := range []int{4, 5} {
		if got := stepOf(t, rc.next(t)); got != want {
			t.Errorf("got step %d, want %d", got, want)
		}
	}
	s := waitStats(t, d, func(s Stats) bool { return s.Sent == 3 })
	eq(t, "stats", s, Stats{Sent: 3, Dropped: 2})
}

func TestCloseDrains(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) { time.Sleep(10 * time.Millisecond) })
	cfg := fastAlerts(config.WebhookGeneric, rc.srv.URL, -1)
	cfg.Webhooks = append(cfg.Webhooks, config.Webhook{Kind: config.WebhookSlack, URL: rc.srv.URL})
	d, err := New(cfg, Options{Logger: testLogger(t), QueueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := d.Notify(step(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	eq(t, "stats", d.Stats(), Stats{Sent: 10})
	eq(t, "requests", rc.hits(), 10)
	if err := d.Notify(step(6)); !errors.Is(err, ErrClosed) {
		t.Errorf("Notify after Close: %v, want ErrClosed", err)
	}
	if err := d.Close(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	var rc *receiver
	rc = newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { rc.hang(r) })
	cfg := fastAlerts(config.WebhookGeneric, rc.srv.URL, 3)
	cfg.Timeout = time.Minute // only Close can cut the attempt short
	d, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := d.Notify(step(i)); err != nil {
			t.Fatal(err)
		}
	}
	rc.next(t) // step 1 is in flight
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want DeadlineExceeded", err)
	}
	eq(t, "stats", d.Stats(), Stats{Failed: 1, Dropped: 2})
}

func TestNotifyRejectsInvalidEvents(t *testing.T) {
	d := newDispatcher(t, config.Alerts{}, Options{})
	for _, ev := range []Event{{}, {Kind: "deploy"}, {Kind: KindCustom, Severity: "fatal"}} {
		if err := d.Notify(ev); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Notify(%+v) = %v, want ErrInvalidEvent", ev, err)
		}
	}
	if err := d.Notify(step(1)); err != nil { // no webhooks: accepted, nothing sent
		t.Errorf("Notify without webhooks: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	os.Unsetenv("BATON_TEST_UNSET_KEY")
	cases := map[string]config.Webhook{
		"kind":           {Kind: "teams", URL: "http://127.0.0.1/"},
		"no url":         {Kind: config.WebhookGeneric},
		"relative url":   {Kind: config.WebhookSlack, URL: "/hooks/x"},
		"scheme":         {Kind: config.WebhookSlack, URL: "ftp://127.0.0.1/x"},
		"no routing key": {Kind: config.WebhookPagerDuty, RoutingKeyEnv: "BATON_TEST_UNSET_KEY"},
	}
	for name, w := range cases {
		_, err := New(config.Alerts{Webhooks: []config.Webhook{w}}, Options{})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New = %v, want ErrConfig", name, err)
		} else if strings.Contains(err.Error(), w.URL) && w.URL != "" {
			t.Errorf("%s: error reveals the URL: %v", name, err)
		}
	}
	// A PagerDuty webhook without URL goes to PagerDuty's endpoint.
	d, err := New(config.Alerts{Webhooks: []config.Webhook{{Kind: config.WebhookPagerDuty, RoutingKey: "k"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "url", d.sinks[0].url, config.DefaultPagerDutyURL)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNewDefaults(t *testing.T) {
	d, err := New(config.Alerts{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	eq(t, "timeout", d.timeout, config.DefaultAlertTimeout)
	eq(t, "backoff", d.backoff, config.DefaultAlertBackoff)
	eq(t, "attempts", d.attempts, 1+config.DefaultAlertRetries)
	eq(t, "maxBackoff", d.maxBackoff, DefaultMaxBackoff)
	eq(t, "throttled", d.throttled, config.DefaultAlertThrottleTimeout)
	eq(t, "outage", d.outage, config.DefaultAlertOutageTimeout)
	if !strings.HasPrefix(d.source, "baton") {
		t.Errorf("source %q", d.source)
	}
	d2, err := New(config.Alerts{Retries: -1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close(context.Background())
	eq(t, "attempts without retries", d2.attempts, 1)
}
