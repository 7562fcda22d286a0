package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/testenv"
)

const cliToken = "tok"

// cliGateway is a gateway with fixed counts. SetWeight and PrepareWeight
// answer the weight asked for, in basis points, as their count, so that a
// test sees what was sent.
type cliGateway struct{}

func (cliGateway) SetWeight(_ context.Context, w router.Weight) (int, int, error) {
	return int(w), 0, nil
}

func (cliGateway) PrepareWeight(_ context.Context, w router.Weight) (int, int, error) {
	return int(w), 1, nil
}

func (cliGateway) SessionInfo(string) (session.Info, bool) { return session.Info{}, false }
func (cliGateway) Status() gateway.Status {
	return gateway.Status{Weight: 2500, Sessions: gateway.SessionCounts{Blue: 75, Green: 25}}
}

// cliRollout is a scripted controller: commands follow the controller's
// rules loosely; the test drives the rest with emit.
type cliRollout struct {
	mu       sync.Mutex
	st       rollout.State
	override *rollout.Override
	subs     []chan rollout.Event
}

func (r *cliRollout) cmd(from []rollout.Phase, op rollout.Op, fn func(*rollout.State)) (rollout.State, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range from {
		if r.st.Phase == p {
			fn(&r.st)
			return r.st, nil
		}
	}
	return r.st, &rollout.TransitionError{Op: op, Phase: r.st.Phase}
}

func (r *cliRollout) Start(_ context.Context, o *rollout.Override) (rollout.State, error) {
	plan, err := rollout.NewPlan(config.Rollout{}, o)
	if err != nil {
		return rollout.State{}, err
	}
	return r.cmd([]rollout.Phase{rollout.Idle, rollout.Completed, rollout.RolledBack, rollout.Aborted}, rollout.OpStart, func(s *rollout.State) {
		r.override = o
		*s = rollout.State{ID: "r7", Phase: rollout.Preparing, Plan: &plan, StartedAt: time.Now()}
	})
}

func (r *cliRollout) Pause(context.Context) (rollout.State, error) {
	return r.cmd([]rollout.Phase{rollout.Preparing, rollout.Shifting}, rollout.OpPause, func(s *rollout.State) { s.Phase = rollout.Paused })
}
func (r *cliRollout) Resume(context.Context) (rollout.State, error) {
	return r.cmd([]rollout.Phase{rollout.Paused}, rollout.OpResume, func(s *rollout.State) { s.Phase = rollout.Shifting })
}
func (r *cliRollout) Promote(context.Context) (rollout.State, error) {
	return r.cmd([]rollout.Phase{rollout.Shifting, rollout.Paused}, rollout.OpPromote, func(s *rollout.State) { s.Weight = router.Full })
}
func (r *cliRollout) Rollback(context.Context) (rollout.State, error) {
	return r.cmd([]rollout.Phase{rollout.Shifting, rollout.Paused}, rollout.OpRollback, func(s *rollout.State) { s.Phase = rollout.RollingBack })
}
func (r *cliRollout) EmergencyRollback(context.Context) (rollout.State, error) {
	return r.cmd([]rollout.Phase{rollout.Shifting, rollout.Paused, rollout.RollingBack}, rollout.OpEmergency, func(s *rollout.State) {
		s.Phase, s.Emergency = rollout.RollingBack, true
	})
}
func (r *cliRollout) Abort(context.Context) (rollout.State, error) {
	return r.cmd([]rollout.Phase{rollout.Preparing, rollout.Shifting, rollout.Paused, rollout.RollingBack}, rollout.OpAbort, func(s *rollout.State) { s.Phase = rollout.Aborted })
}

func (r *cliRollout) SetWeightByHand(ctx context.Context, _ router.Weight, set func(context.Context) error) error {
	if ph := r.Status().Phase; ph.Active() {
		return &rollout.TransitionError{Op: rollout.OpSetWeight, Phase: ph}
	}
	return set(ctx)
}

func (r *cliRollout) Status() rollout.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

func (r *cliRollout) Subscribe(buffer int) admin.EventStream {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &cliStream{r: r, ch: make(chan rollout.Event, buffer)}
	r.subs = append(r.subs, s.ch)
	return s
}

func (r *cliRollout) subscribers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}

// emit changes the state as the driver would and sends e (From, To and
// Step filled in).
func (r *cliRollout) emit(e rollout.Event, fn func(*rollout.State)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.From = r.st.Phase
	fn(&r.st)
	e.To, e.Step, e.Weight, e.Time = r.st.Phase, r.st.Step, r.st.Weight, time.Now()
	for _, ch := range r.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

type cliStream struct {
	r    *cliRollout
	ch   chan rollout.Event
	once sync.Once
}

func (s *cliStream) C() <-chan rollout.Event { return s.ch }
func (s *cliStream) Dropped() uint64         { return 0 }
func (s *cliStream) Close() {
	s.once.Do(func() {
		s.r.mu.Lock()
		defer s.r.mu.Unlock()
		for i, ch := range s.r.subs {
			if ch == s.ch {
				s.r.subs = append(s.r.subs[:i], s.r.subs[i+1:]...)
				break
			}
		}
		close(s.ch)
	})
}

// adminServer serves a real admin API over the scripted controller.
func adminServer(t *testing.T) (*httptest.Server, *cliRollout, *admin.Server) {
	t.Helper()
	ro := &cliRollout{st: rollout.State{Phase: rollout.Idle}}
	api, err := admin.New(admin.Options{Gateway: cliGateway{}, Token: cliToken, Rollout: ro,
		Stream: admin.StreamOptions{MetricsInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = api.Shutdown(ctx)
		srv.Close()
	})
	return srv, ro, api
}

// baton runs the command line and returns its output and error.
func baton(ctx context.Context, args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func TestRolloutCommandsCLI(t *testing.T) {
	srv, ro, _ := adminServer(t)
	ctx := context.Background()
	conn := []string{"--admin", srv.URL, "--token", cliToken}

	out, err := baton(ctx, append([]string{"rollout", "start", "--steps", "10,50,100", "--hold", "2s", "--max-p95", "300ms", "--min-samples", "7"}, conn...)...)
	if err != nil || !strings.Contains(out, "rollout r7: preparing, step 0/3") {
		t.Fatalf("start: %v %q", err, out)
	}
	o := ro.override
	if o == nil || len(o.Steps) != 3 || o.Hold.D() != 2*time.Second || o.Thresholds == nil ||
		o.Thresholds.MaxP95.D() != 300*time.Millisecond || o.Thresholds.MaxErrorRate != nil || *o.MinSamples != 7 || o.MinSessions != nil {
		t.Fatalf("override sent: %+v", o)
	}

	t.Setenv(TokenEnv, cliToken) // from here on the token comes from the environment
	out, err = baton(ctx, "rollout", "status", "--admin", srv.URL)
	if err != nil || !strings.Contains(out, "preparing") || !strings.Contains(out, "10% → 50% → 100%") {
		t.Fatalf("status: %v %q", err, out)
	}
	if out, err = baton(ctx, "rollout", "pause", "--admin", srv.URL); err != nil || !strings.Contains(out, "paused") {
		t.Fatalf("pause: %v %q", err, out)
	}
	_, err = baton(ctx, "rollout", "pause", "--admin", srv.URL)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.State != "paused" || !strings.Contains(err.Error(), "rollout state: paused") {
		t.Fatalf("second pause: %v", err)
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		t.Fatal("a refused command must exit 1, not a rollout outcome code")
	}
	out, err = baton(ctx, "rollout", "status", "--json", "--admin", srv.URL)
	if err != nil || !strings.HasPrefix(out, `{"id":"r7","state":"paused"`) {
		t.Fatalf("status --json: %v %q", err, out)
	}
	for _, c := range []string{"resume", "promote", "emergency", "abort"} {
		if _, err := baton(ctx, "rollout", c, "--admin", srv.URL); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
	}
	if st := ro.Status(); st.Phase != rollout.Aborted || !st.Emergency {
		t.Fatalf("after the commands: %+v", st)
	}
}

func TestRolloutCLIErrors(t *testing.T) {
	srv, _, _ := adminServer(t)
	ctx := context.Background()
	t.Setenv(TokenEnv, "")
	if _, err := baton(ctx, "rollout", "status", "--admin", srv.URL); err == nil || !strings.Contains(err.Error(), TokenEnv) {
		t.Fatalf("no token: %v", err)
	}
	if _, err := baton(ctx, "rollout", "status", "--admin", srv.URL, "--token", "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
	_, err := baton(ctx, "rollout", "start", "--steps", "50,20,100", "--admin", srv.URL, "--token", cliToken)
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "steps[1]") {
		t.Fatalf("bad plan: %v", err)
	}
	if _, err := baton(ctx, "rollout", "start", "--hold", "-1s", "--admin", srv.URL, "--token", cliToken); err == nil || !strings.Contains(err.Error(), "rollout.hold") {
		t.Fatalf("negative hold: %v", err)
	}
	if _, err := baton(ctx, "rollout", "status", "--admin", "127.0.0.1:9", "--token", cliToken); err == nil {
		t.Fatal("an --admin without a scheme was accepted")
	}
}

// watch runs `baton rollout watch` against url in the background, with
// the extra flags given.
func watch(t *testing.T, url string, flags ...string) (out *syncBuffer, done chan error) {
	t.Helper()
	return watchCtx(testenv.Context(t, 20*time.Second), url, flags...)
}

// watchCtx is watch under ctx, which the caller cancels (Ctrl-C).
func watchCtx(ctx context.Context, url string, flags ...string) (out *syncBuffer, done chan error) {
	out, done = &syncBuffer{}, make(chan error, 1)
	root := newRoot()
	root.SetArgs(append([]string{"rollout", "watch", "--admin", url, "--token", cliToken}, flags...))
	root.SetOut(out)
	root.SetErr(out)
	go func() { done <- root.ExecuteContext(ctx) }()
	return out, done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func result(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("watch did not exit")
		return nil
	}
}

func exitCode(err error) int {
	var ec exitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	return 1
}

func TestWatchExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   func(*cliRollout)
		code  int
		words []string
	}{
		{"completed", func(r *cliRollout) {
			r.emit(rollout.Event{Kind: rollout.EventCompleted}, func(s *rollout.State) {
				s.Phase, s.Step, s.Weight, s.EndedAt = rollout.Completed, 2, router.Full, time.Now()
			})
		}, 0, []string{"rollout_completed", "completed"}},
		{"rolled back", func(r *cliRollout) {
			r.emit(rollout.Event{Kind: rollout.EventGateFailed, Verdict: &rollout.Verdict{Step: 1, Outcome: rollout.Fail}}, func(s *rollout.State) {
				s.Phase, s.Weight, s.Reason = rollout.RollingBack, 0, "green p95 800ms over 500ms"
			})
			r.emit(rollout.Event{Kind: rollout.EventRollbackFinished}, func(s *rollout.State) { s.Phase = rollout.RolledBack })
		}, exitRolledBack, []string{"gate_failed", "verdict fail", "rolled_back"}},
		{"aborted", func(r *cliRollout) {
			r.emit(rollout.Event{Kind: rollout.EventAborted}, func(s *rollout.State) { s.Phase = rollout.Aborted })
		}, exitAborted, []string{"rollout_aborted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ro, _ := adminServer(t)
			if _, err := ro.Start(context.Background(), &rollout.Override{Steps: []float64{50, 100}}); err != nil {
				t.Fatal(err)
			}
			out, done := watch(t, srv.URL)
			testenv.Eventually(t, "watch to subscribe", 5*time.Second, func() bool { return ro.subscribers() == 1 })
			ro.emit(rollout.Event{Kind: rollout.EventStepStarted}, func(s *rollout.State) {
				s.Phase, s.Step, s.Weight = rollout.Shifting, 1, 5000
			})
			ro.emit(rollout.Event{Kind: rollout.EventStepApplied}, func(s *rollout.State) {
				s.Applied, s.HoldUntil = true, time.Now().Add(time.Second)
			})
			testenv.Eventually(t, "a metrics line at step 1", 5*time.Second, func() bool { return strings.Contains(out.String(), "shifting step 1/2 weight 50%") })
			tc.end(ro)
			err := result(t, done)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit code %d (%v), want %d; output:\n%s", got, err, tc.code, out)
			}
			text := out.String()
			for _, w := range append(tc.words, "step_started", "blue 75 sessions") {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			if strings.Contains(text, "\x1b[") {
				t.Error("ANSI escapes in the output of a non-terminal")
			}
			testenv.Eventually(t, "the stream to close", 5*time.Second, func() bool { return ro.subscribers() == 0 })
		})
	}
}

func TestWatchEndedRolloutAndLostStream(t *testing.T) {
	srv, ro, api := adminServer(t)
	ro.st = rollout.State{ID: "r1", Phase: rollout.RolledBack, Reason: "gate failed"}
	_, done := watch(t, srv.URL)
	if err := result(t, done); exitCode(err) != exitRolledBack {
		t.Fatalf("watch of a rolled-back rollout: %v", err)
	}

	ro.mu.Lock()
	ro.st = rollout.State{ID: "r2", Phase: rollout.Shifting, Step: 1}
	ro.mu.Unlock()
	// Without reconnecting, a lost stream ends watch at once.
	out, done := watch(t, srv.URL, "--reconnect-for", "0")
	testenv.Eventually(t, "watch to subscribe", 5*time.Second, func() bool { return ro.subscribers() == 1 })
	testenv.Eventually(t, "a metrics line", 5*time.Second, func() bool { return strings.Contains(out.String(), "shifting") })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := api.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	err := result(t, done)
	if !errors.Is(err, errStreamEnded) || exitCode(err) != 1 {
		t.Fatalf("lost stream: %v (exit %d)", err, exitCode(err))
	}

	// With reconnecting, a gateway that keeps refusing the stream (503
	// after Shutdown) is retried until the budget runs out.
	out, done = watch(t, srv.URL, "--reconnect-for", "400ms")
	err = result(t, done)
	var ae *apiError
	if exitCode(err) != exitLost || !errors.As(err, &ae) || ae.Status != 503 || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("refused streams: %v (exit %d)", err, exitCode(err))
	}
	if !strings.Contains(out.String(), "reconnecting") {
		t.Fatalf("no reconnecting notice:\n%s", out)
	}
}

func TestWatchTerminalFrame(t *testing.T) {
	var b bytes.Buffer
	ui := &watchUI{out: &b, tty: true}
	now := time.Now()
	plan, _ := rollout.NewPlan(config.Rollout{}, &rollout.Override{Steps: []float64{10, 50, 100}, Hold: ptr(rollout.Duration(10 * time.Second))})
	m := &watchModel{
		status: admin.RolloutStatus{ID: "r1", State: "shifting", Step: 2, Steps: 3, Weight: 50, Applied: true,
			HoldUntil: now.Add(5 * time.Second), Plan: &plan,
			History: []admin.StepTiming{{Step: 1, Outcome: "pass"}, {Step: 2}}},
		metrics: &admin.Metrics{At: now, Sessions: admin.SessionCounts{Blue: 50, Green: 50},
			Backends: map[string]admin.BackendMetrics{"green": {WindowMetrics: admin.WindowMetrics{Sessions: 50, ErrorRate: 0.0123, P95Ms: 14.5, P99Ms: 30}}}},
	}
	ui.render(m)
	first := b.String()
	for _, w := range []string{"step 1    10%", "pass", "holding, 5s left", "green  sessions     50  err   1.23%  p95    14.5ms  p99      30ms", "█", "░"} {
		if !strings.Contains(first, w) {
			t.Errorf("frame lacks %q:\n%s", w, first)
		}
	}
	ui.render(m)
	if redraw := b.String()[len(first):]; !strings.HasPrefix(redraw, "\x1b["+strconv.Itoa(ui.lines)+"A\x1b[J") {
		t.Fatalf("the second frame does not redraw in place: %q", redraw[:min(20, len(redraw))])
	}
	// Half the hold gone is half a bar.
	if fill, _ := stepProgress(m, 2, now); fill != 0.5 {
		t.Fatalf("hold progress %v, want 0.5", fill)
	}
	m.status.Applied = false
	m.metrics.Sessions = admin.SessionCounts{Blue: 70, Green: 30} // 30 % of the way 10 → 50
	if fill := moveProgress(m, 2); fill < 0.49 || fill > 0.51 {
		t.Fatalf("move progress %v, want 0.5", fill)
	}
}

// TestRolloutStartHelpDefaults: --steps not given means the configured
// steps; the help must not claim an empty default.
func TestRolloutStartHelpDefaults(t *testing.T) {
	out, err := baton(context.Background(), "rollout", "start", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "(default [])") || strings.Contains(out, "float64Slice") {
		t.Errorf("--steps help:\n%s", out)
	}
}
