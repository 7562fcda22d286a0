package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// testConfig is a small, fast demo: a few dozen clients, short holds,
// frequent requests so that the gates get their samples quickly.
func testConfig(t *testing.T) Config {
	var out bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s", out.String())
		}
	})
	return Config{
		Clients:      40,
		Rate:         100,
		Channels:     10,
		RequestEvery: 50 * time.Millisecond,
		Hold:         300 * time.Millisecond,
		Warmup:       500 * time.Millisecond,
		Settle:       300 * time.Millisecond,
		Timeout:      40 * time.Second,
		Out:          &out,
	}
}

func runDemo(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %s", js.String())
	return r
}

// checkLastEvent: the progress shows the rollout's final event, which
// reaches the demo after Status already shows the end.
func checkLastEvent(t *testing.T, cfg Config, kind string) {
	t.Helper()
	if out := cfg.Out.(*bytes.Buffer).String(); !strings.Contains(out, kind) {
		t.Errorf("progress lacks %q", kind)
	}
}

// checkGuarantees: the clients saw every message once, in order, on a
// connection that never dropped.
func checkGuarantees(t *testing.T, r *Report, clients int) {
	t.Helper()
	if r.Sessions.Kept != clients || r.Sessions.Total != clients {
		t.Errorf("sessions preserved %+v, want %d of %d", r.Sessions, clients, clients)
	}
	if r.Subscriptions.Kept != r.Subscriptions.Total || r.Subscriptions.Total != 3*clients {
		t.Errorf("subscriptions preserved %+v, want all %d", r.Subscriptions, 3*clients)
	}
	if r.Reconnects != 0 {
		t.Errorf("%d reconnects", r.Reconnects)
	}
	if m := r.Messages; m.Lost != 0 || m.Duplicated != 0 || m.OutOfOrder != 0 || m.Stray != 0 || m.Delivered == 0 || m.Published == 0 {
		t.Errorf("messages %+v", m)
	}
	if !r.OK {
		t.Errorf("report not OK: %+v", r.Checks)
	}
}

func TestDemoCompletes(t *testing.T) {
	cfg := testConfig(t)
	r := runDemo(t, cfg)
	if r.Outcome != OutcomeCompleted || r.ExitCode() != ExitOK {
		t.Fatalf("outcome %s (%s), exit code %d", r.Outcome, r.Reason, r.ExitCode())
	}
	checkGuarantees(t, r, cfg.Clients)
	checkLastEvent(t, cfg, "rollout_completed")
	if r.Final.Green != cfg.Clients || r.Final.Blue != 0 {
		t.Errorf("sessions at the end %+v, want all %d on green", r.Final, cfg.Clients)
	}
	if len(r.Steps) != 5 || r.Steps[4].Weight != 100 {
		t.Errorf("steps %+v, want five ending at 100 %%", r.Steps)
	}
	if r.Moves.Done < uint64(cfg.Clients) || r.Moves.Failed != 0 {
		t.Errorf("moves %+v, want every client moved once without failure", r.Moves)
	}
	if r.Backends["blue"].Requests == 0 || r.Backends["green"].Requests == 0 {
		t.Errorf("requests per backend %+v: both backends must have answered", r.Backends)
	}
	// The JSON report carries the same figures under stable names.
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["outcome"] != OutcomeCompleted || back["ok"] != true || back["reconnects"] != 0.0 {
		t.Errorf("JSON report %s", js.String())
	}
}

// Green dies once half the users are on it: the sessions it held are
// re-attached to blue with their subscriptions, the gate fails, the
// rollout rolls back, and nobody notices but the report.
func TestDemoGreenCrashRollsBack(t *testing.T) {
	cfg := testConfig(t)
	cfg.Fault = Fault{Kind: FaultCrash, CrashAt: 50}
	r := runDemo(t, cfg)
	if r.Outcome != OutcomeRolledBack || r.ExitCode() != ExitNotComplete {
		t.Fatalf("outcome %s (%s), exit code %d; want rolled back, %d", r.Outcome, r.Reason, r.ExitCode(), ExitNotComplete)
	}
	checkGuarantees(t, r, cfg.Clients)
	checkLastEvent(t, cfg, "rollback_finished")
	if r.Final.Blue != cfg.Clients || r.Final.Green != 0 || r.Final.Detached != 0 {
		t.Errorf("sessions at the end %+v, want all %d on blue", r.Final, cfg.Clients)
	}
	if r.Moves.Drops == 0 || r.Moves.Reattached != r.Moves.Drops {
		t.Errorf("moves %+v: green's sessions must have dropped and been re-attached", r.Moves)
	}
}

// Green answers every publish 800 ms late: the P95 gate fails at the
// first step and the few users already on green return to blue, live.
func TestDemoGreenLatencyRollsBack(t *testing.T) {
	cfg := testConfig(t)
	cfg.Fault = Fault{Kind: FaultLatency, Latency: 800 * time.Millisecond}
	r := runDemo(t, cfg)
	if r.Outcome != OutcomeRolledBack || r.ExitCode() != ExitNotComplete {
		t.Fatalf("outcome %s (%s), exit code %d; want rolled back, %d", r.Outcome, r.Reason, r.ExitCode(), ExitNotComplete)
	}
	checkGuarantees(t, r, cfg.Clients)
	checkLastEvent(t, cfg, "rollback_finished")
	if r.Final.Blue != cfg.Clients {
		t.Errorf("sessions at the end %+v, want all %d on blue", r.Final, cfg.Clients)
	}
	if g := r.Backends["green"]; g.Requests > 0 && g.P95Ms < 800 {
		t.Errorf("green P95 %.1f ms as the clients saw it, want the injected 800 ms or more", g.P95Ms)
	}
}

// cancelOn is a progress writer that cancels the demo once a line
// containing one of words has been written: an operator's Ctrl-C at that
// point.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	words  []string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	for _, word := range w.words {
		if strings.Contains(w.buf.String(), word) {
			w.cancel()
		}
	}
	return n, err
}

// Interrupted right after the rollout ended (during the settle, before
// the clients have caught up), the demo says it was interrupted: it makes
// no report, which would count the messages still on their way as lost
// (with 400 clients: thousands, and "A GUARANTEE BROKE").
func TestDemoInterruptedAfterRolloutIsNotABreak(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	cfg := testConfig(t)
	cfg.Rate = 1000 // messages on their way when the interruption comes
	// The rollout's last event reaches the progress after Status shows the
	// end (checkLastEvent): a settle that long makes sure the interruption
	// comes during it, on a loaded machine too.
	cfg.Settle = 20 * time.Second
	// The rollout's end, whichever it is: on a loaded machine green's
	// P95 can pass the gate's 500 ms and the rollout roll back.
	out := &cancelOn{words: []string{"rollout_completed", "rollback_finished"}, cancel: interrupt}
	cfg.Out = out
	r, err := Run(runCtx, cfg)
	if err == nil {
		var js bytes.Buffer
		_ = r.WriteJSON(&js)
		t.Fatalf("an interrupted demo made a report (ok %v): %s", r.OK, js.String())
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want an interruption (context canceled)", err)
	}
}
