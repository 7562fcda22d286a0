package alert

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

// waitFor bounds every wait in these tests.
const waitFor = 10 * time.Second

// request is one POST a receiver got.
type request struct {
	n      int // 1-based arrival number
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint on loopback. respond decides the answer to
// the n-th request; nil answers 200.
type receiver struct {
	srv     *httptest.Server
	got     chan request
	release chan struct{} // closed at cleanup: hanging handlers return

	mu sync.Mutex
	n  int
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan request, 256), release: make(chan struct{})}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.mu.Unlock()
		rc.got <- request{n: n, at: time.Now(), header: r.Header.Clone(), body: body}
		if respond != nil {
			respond(n, w, r)
		}
	}))
	t.Cleanup(func() {
		close(rc.release)
		rc.srv.Close()
	})
	return rc
}

// hang blocks a handler until the client gives up or the test ends.
func (rc *receiver) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-rc.release:
	}
}

func (rc *receiver) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(waitFor):
		t.Fatal("receiver: no request")
		return request{}
	}
}

// none asserts that no request arrives within a short grace period.
func (rc *receiver) none(t *testing.T, grace time.Duration) {
	t.Helper()
	select {
	case r := <-rc.got:
		t.Fatalf("receiver: unexpected request %d: %s", r.n, r.body)
	case <-time.After(grace):
	}
}

func (rc *receiver) hits() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

// fastAlerts is a config for one webhook with short waits.
func fastAlerts(kind, url string, retries int) config.Alerts {
	return config.Alerts{
		Webhooks: []config.Webhook{{Kind: kind, URL: url}},
		Timeout:  2 * time.Second,
		Retries:  retries,
		Backoff:  time.Millisecond,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newDispatcher starts a Dispatcher that the test's cleanup closes.
func newDispatcher(t *testing.T, cfg config.Alerts, opts Options) *Dispatcher {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.Source == "" {
		opts.Source = "baton@test"
	}
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d
}

// waitStats polls until ok holds, for at most waitFor.
func waitStats(t *testing.T, d *Dispatcher, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s := d.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never matched: %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, b)
	}
	return m
}

// field walks m along keys (object keys or list indexes as int).
func field(t *testing.T, m any, path ...any) any {
	t.Helper()
	cur := m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			obj, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q", path, k)
			}
			v, ok := obj[k]
			if !ok {
				t.Fatalf("%v: no key %q in %v", path, k, obj)
			}
			cur = v
		case int:
			list, ok := cur.([]any)
			if !ok || k >= len(list) {
				t.Fatalf("%v: no index %d", path, k)
			}
			cur = list[k]
		}
	}
	return cur
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}
