package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// adminOn serves a real admin API over ro on addr ("127.0.0.1:0": any
// port), as one gateway process would; ro outlives it as the persisted
// rollout state outlives a restart. wrap, if not nil, wraps the handler.
// stop(false) cuts every connection as a killed process would; stop(true)
// shuts down gracefully (the streams get a shutdown event).
func adminOn(t *testing.T, addr string, ro *cliRollout, wrap func(http.Handler) http.Handler) (url string, stop func(graceful bool)) {
	t.Helper()
	return adminOnStream(t, addr, ro, wrap, admin.StreamOptions{MetricsInterval: 20 * time.Millisecond})
}

// adminOnStream is adminOn with the event streams' options so.
func adminOnStream(t *testing.T, addr string, ro *cliRollout, wrap func(http.Handler) http.Handler, so admin.StreamOptions) (url string, stop func(graceful bool)) {
	t.Helper()
	api, err := admin.New(admin.Options{Gateway: cliGateway{}, Token: cliToken, Rollout: ro, Stream: so})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = api
	if wrap != nil {
		h = wrap(h)
	}
	var ln net.Listener
	for range 50 { // the port of a server just killed may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	var once sync.Once
	stop = func(graceful bool) {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if graceful {
				_ = api.Shutdown(ctx)
				_ = srv.Shutdown(ctx)
			} else {
				_ = srv.Close()
				_ = api.Shutdown(ctx) // waits for the stream handlers to see the cut
			}
			<-served
		})
	}
	t.Cleanup(func() { stop(false) })
	return "http://" + ln.Addr().String(), stop
}

// shiftingRollout is a rollout at step 1 of 2.
func shiftingRollout(t *testing.T) *cliRollout {
	t.Helper()
	ro := &cliRollout{st: rollout.State{Phase: rollout.Idle}}
	if _, err := ro.Start(context.Background(), &rollout.Override{Steps: []float64{50, 100}}); err != nil {
		t.Fatal(err)
	}
	ro.emit(rollout.Event{Kind: rollout.EventStepStarted}, func(s *rollout.State) {
		s.Phase, s.Step, s.Weight = rollout.Shifting, 1, 5000
	})
	return ro
}

func TestWatchReconnects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		graceful bool
		// whileDown changes the rollout while no gateway runs; after
		// the restart, afterUp does.
		whileDown, afterUp func(*cliRollout)
		code               int
		words              []string
	}{
		{
			name: "killed, then completes after the restart",
			whileDown: func(r *cliRollout) {
				r.emit(rollout.Event{Kind: rollout.EventStepStarted}, func(s *rollout.State) { s.Step, s.Weight = 2, router.Full })
			},
			afterUp: func(r *cliRollout) {
				r.emit(rollout.Event{Kind: rollout.EventCompleted}, func(s *rollout.State) {
					s.Phase, s.EndedAt = rollout.Completed, time.Now()
				})
			},
			code:  0,
			words: []string{"shifting step 2/2 weight 100%", "rollout_completed"},
		},
		{
			name:     "shut down, rolled back while down",
			graceful: true,
			whileDown: func(r *cliRollout) {
				r.emit(rollout.Event{Kind: rollout.EventRollbackFinished}, func(s *rollout.State) {
					s.Phase, s.Weight, s.Reason = rollout.RolledBack, 0, "gate failed"
				})
			},
			code:  exitRolledBack,
			words: []string{"the gateway is shutting down", "rolled_back"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ro := shiftingRollout(t)
			url, stop := adminOn(t, "127.0.0.1:0", ro, nil)
			out, done := watch(t, url, "--reconnect-for", "15s")
			testenv.Eventually(t, "a metrics line at step 1", 5*time.Second, func() bool { return strings.Contains(out.String(), "shifting step 1/2") })

			stop(tc.graceful)
			testenv.Eventually(t, "the reconnecting notice", 5*time.Second, func() bool { return strings.Contains(out.String(), "reconnecting…") })
			testenv.Eventually(t, "the old stream to close", 5*time.Second, func() bool { return ro.subscribers() == 0 })
			tc.whileDown(ro)

			_, stop = adminOn(t, strings.TrimPrefix(url, "http://"), ro, nil)
			defer stop(true)
			if tc.afterUp != nil {
				// Past the re-read of the status: the end comes by the new stream.
				testenv.Eventually(t, "watch to follow the new stream", 5*time.Second, func() bool { return strings.Contains(out.String(), "shifting step 2/2") })
				tc.afterUp(ro)
			}
			err := result(t, done)
			text := out.String()
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit code %d (%v), want %d; output:\n%s", got, err, tc.code, text)
			}
			for _, w := range append(tc.words, "reconnected") {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			if n := strings.Count(text, "reconnecting"); n != 1 {
				t.Errorf("%d reconnecting notices for one outage:\n%s", n, text)
			}
			stop(true)
		})
	}
}

// A rollout that ended and gave way to another while watch was away has
// no end watch could report: it says so and exits 1.
func TestWatchRolloutReplacedWhileDown(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ro := shiftingRollout(t)
	url, stop := adminOn(t, "127.0.0.1:0", ro, nil)
	out, done := watch(t, url, "--reconnect-for", "15s")
	testenv.Eventually(t, "a metrics line at step 1", 5*time.Second, func() bool { return strings.Contains(out.String(), "shifting step 1/2") })
	stop(false)
	testenv.Eventually(t, "the old stream to close", 5*time.Second, func() bool { return ro.subscribers() == 0 })
	ro.mu.Lock()
	ro.st = rollout.State{ID: "r8", Phase: rollout.Shifting, Step: 1}
	ro.mu.Unlock()
	_, stop = adminOn(t, strings.TrimPrefix(url, "http://"), ro, nil)
	defer stop(true)
	err := result(t, done)
	if exitCode(err) != 1 || err == nil || !strings.Contains(err.Error(), "rollout r7 ended while watch was disconnected and r8 began") {
		t.Fatalf("replaced rollout: %v (exit %d)", err, exitCode(err))
	}
	stop(true)
}

func TestWatchBadTokenIsNotRetried(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var streams atomic.Int32
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/events" {
				streams.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
	url, stop := adminOn(t, "127.0.0.1:0", shiftingRollout(t), count)
	defer stop(true)
	out, done := watch(t, url, "--token", "wrong", "--reconnect-for", "15s")
	err := result(t, done)
	var ae *apiError
	if exitCode(err) != 1 || !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), TokenEnv) {
		t.Fatalf("bad token: %v (exit %d)", err, exitCode(err))
	}
	if n := streams.Load(); n != 1 {
		t.Fatalf("%d stream requests, want 1", n)
	}
	if strings.Contains(out.String(), "reconnecting") {
		t.Fatalf("a refused token was retried:\n%s", out)
	}
}

func TestWatchGivesUp(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out, done := watch(t, "http://"+testenv.FreeAddr(t), "--reconnect-for", "500ms")
	err := result(t, done)
	var le *lostError
	if exitCode(err) != exitLost || !errors.As(err, &le) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreachable gateway: %v (exit %d)", err, exitCode(err))
	}
	if !strings.Contains(out.String(), "reconnecting…") {
		t.Fatalf("no reconnecting notice:\n%s", out)
	}
	if _, err := baton(context.Background(), "rollout", "watch", "--admin", "http://"+testenv.FreeAddr(t), "--token", cliToken, "--reconnect-for", "-1s"); err == nil {
		t.Fatal("a negative --reconnect-for was accepted")
	}
}

func TestWatchInterruptedWhileReconnecting(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, done := watchCtx(ctx, "http://"+testenv.FreeAddr(t), "--reconnect-for", "1m")
	testenv.Eventually(t, "the reconnecting notice", 5*time.Second, func() bool { return strings.Contains(out.String(), "reconnecting…") })
	cancel() // Ctrl-C
	if err := result(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted watch: %v", err)
	}
}

// A connected stream that goes silent (no events, no heartbeats) is
// treated as lost instead of hanging watch.
func TestWatchSilentStream(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	silent := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("event: status\ndata: {\"state\":\"shifting\"}\n\n"))
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		})
	}
	url, stop := adminOn(t, "127.0.0.1:0", shiftingRollout(t), silent)
	defer stop(false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rp := defaultReconnect(0)
	rp.idle = 200 * time.Millisecond
	err := runWatch(ctx, &rolloutFlags{admin: url, token: cliToken}, &syncBuffer{}, false, rp)
	if !errors.Is(err, errStreamIdle) || !errors.Is(err, errStreamEnded) || exitCode(err) != 1 {
		t.Fatalf("silent stream: %v (exit %d)", err, exitCode(err))
	}
}

// TestWatchWaitsForARolloutToStart: started while the gateway has no
// rollout (idle), watch waits, then follows the rollout that starts, to
// its end and exit code (its help and docs/api.md say so).
func TestWatchWaitsForARolloutToStart(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ro := &cliRollout{st: rollout.State{Phase: rollout.Idle}}
	url, stop := adminOn(t, "127.0.0.1:0", ro, nil)
	defer stop(true)
	out, done := watch(t, url, "--plain")
	testenv.Eventually(t, "watch connected to the stream", 5*time.Second, func() bool { return ro.subscribers() > 0 })
	select {
	case err := <-done:
		t.Fatalf("watch ended with no rollout to follow: %v; output:\n%s", err, out.String())
	case <-time.After(200 * time.Millisecond):
	}

	if _, err := ro.Start(context.Background(), &rollout.Override{Steps: []float64{100}}); err != nil {
		t.Fatal(err)
	}
	ro.emit(rollout.Event{Kind: rollout.EventStepStarted}, func(s *rollout.State) {
		s.Phase, s.Step, s.Weight = rollout.Shifting, 1, router.Full
	})
	testenv.Eventually(t, "watch to follow the started rollout", 5*time.Second, func() bool { return strings.Contains(out.String(), "shifting step 1/1") })
	ro.emit(rollout.Event{Kind: rollout.EventCompleted}, func(s *rollout.State) {
		s.Phase, s.EndedAt = rollout.Completed, time.Now()
	})
	if err := result(t, done); exitCode(err) != 0 {
		t.Fatalf("exit code %d (%v), want 0; output:\n%s", exitCode(err), err, out.String())
	}
}
