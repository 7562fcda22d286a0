package rollout

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// stepTraffic is a shifter whose PrepareWeight, which the controller calls
// once early in each step's hold (plan.PrepareNext), plays the hold's
// client traffic into a real health.Monitor and moves the clock that the
// monitor and the controller share to the hold's end: the driver then
// finds the hold over and gates at once, on a clock only the test moves.
// Each session makes one request a second, acked in 10-29 ms on either
// backend; green answers greenErrors[weight] of its requests with an
// error while that weight is applied.
type stepTraffic struct {
	*fakeShifter
	m           *health.Monitor
	clk         *handClock
	hold        time.Duration
	greenErrors map[router.Weight]float64
}

func (s *stepTraffic) PrepareWeight(ctx context.Context, w router.Weight) (int, int, error) {
	s.play()
	return s.fakeShifter.PrepareWeight(ctx, w)
}

func (s *stepTraffic) PrepareWeightPaced(ctx context.Context, w router.Weight, pace int) (int, int, error) {
	s.play()
	return s.fakeShifter.PrepareWeightPaced(ctx, w, pace)
}

func (s *stepTraffic) play() {
	st := s.Status()
	start := s.clk.Now()
	for at := time.Duration(0); at < s.hold; at += time.Second {
		s.clk.set(start.Add(at))
		for _, b := range []struct {
			c        router.Color
			sessions int
			errRate  float64
		}{{router.Blue, st.Sessions.Blue, 0}, {router.Green, st.Sessions.Green, s.greenErrors[st.Weight]}} {
			r := s.m.Backend(b.c)
			errs := int(float64(b.sessions) * b.errRate)
			r.Add(health.Requests, int64(b.sessions))
			r.Add(health.ErrorReplies, int64(errs))
			for i := range b.sessions - errs {
				r.Observe(health.RequestAck, 10*time.Millisecond+time.Duration(i%20)*time.Millisecond)
			}
		}
	}
	s.clk.set(start.Add(s.hold))
}

// A step's gate judges that step's traffic. With the default hold (30s)
// and health window (60s), the gate of step 2 read the window, half of it
// recorded at step 1, at a lower weight: a green that is healthy at 40 %
// and answers 1.6 % of its requests with an error once it carries 50 % (a
// pool that saturates) showed 0.9 % over the window, under the 1 % limit,
// and passed into 100 %. Its gate must read what green did at 50 %: 1.6 %,
// a fail, and a rollback.
func TestGateJudgesItsStepsOwnTraffic(t *testing.T) {
	const hold = 30 * time.Second // config.DefaultHold
	m, clk, _ := handMonitor(t)   // health.window 60s, the default
	sh := &stepTraffic{fakeShifter: newShifter(), m: m, clk: clk, hold: hold,
		greenErrors: map[router.Weight]float64{5000: 0.016}}
	h := newHarness(t, func(o *Options) {
		o.Plan = config.Rollout{Steps: []float64{40, 50, 100}, Hold: hold, PrepareNext: true,
			Store: config.Store{Kind: config.StoreMemory}}
		o.Shifter = sh
		o.Health = NewMonitorHealth(m, health.RequestAck, nil)
		o.Now = clk.Now
	})
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st := h.waitFor(h.c, "step 2's verdict", func(s State) bool { return len(s.Verdicts) >= 2 })
	v1, v2 := st.Verdicts[0], st.Verdicts[1]
	if v1.Step != 1 || v1.Outcome != Pass {
		t.Fatalf("step 1 (healthy green at 40 %%): %s, reasons %v", v1.Outcome, v1.Reasons)
	}
	// Step 2 held 30 s at 50 %: 500 requests a second on each backend.
	if v2.Step != 2 || v2.Outcome != Fail || checkOutcome(v2, CheckErrorRate) != Fail {
		t.Fatalf("step 2 (green fails 1.6 %% of its requests at 50 %%): %s, %s %s (green %d errors in %d operations, %.2f %%), want a fail",
			v2.Outcome, CheckErrorRate, checkOutcome(v2, CheckErrorRate), v2.Green.Errors, v2.Green.Total, 100*v2.Green.ErrorRate)
	}
	if v2.Green.Total != 15000 || v2.Green.Errors != 240 || v2.Blue.Total != 15000 {
		t.Errorf("step 2's verdict counts green %d errors in %d, blue %d operations: want the step's own, 240 in 15000 and 15000",
			v2.Green.Errors, v2.Green.Total, v2.Blue.Total)
	}
	h.waitPhase(h.c, RolledBack)
}

// Every gate of a step reads from the step's start: an extension's too,
// so that the step's samples accumulate, and the gates of a controller
// restarted during the step (the start is the stored one).
func TestEveryGateOfAStepReadsFromItsStart(t *testing.T) {
	h := newHarness(t)
	h.health.setGreen(healthy(50, 0)) // too few operations: inconclusive
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitFor(h.c, "an extension", func(s State) bool { return s.Step == 1 && s.Extensions >= 1 })
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	h.health.setGreen(healthy(1000, 0))
	st := h.waitPhase(h.open(), Completed)

	starts := map[int64]int{} // a step's start: its index in st.Steps
	for i, r := range st.Steps {
		starts[r.StartedAt.UnixNano()] = i
	}
	perStep := make([]int, len(st.Steps))
	for _, since := range h.health.sinces() {
		i, ok := starts[since.UnixNano()]
		if !ok {
			t.Fatalf("a gate read health since %v, not since a step's start %v", since, st.Steps)
		}
		perStep[i]++
	}
	// Step 1: an inconclusive gate, then at least one more after the
	// restart; each reads both backends.
	if perStep[0] < 4 {
		t.Errorf("reads per step %v: step 1's gates did not all read from its start", perStep)
	}
}

// In test mode every hold is TestHold: with the probe's interval known,
// Start refuses a min_samples that the probe cannot give over a test
// step's hold and extensions, since each gate reads its step's samples.
func TestStartRefusesMinSamplesAStepCannotGather(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.TestMode, o.TestHold = true, 100*time.Millisecond
		o.MaxMinSamples, o.ProbeInterval = 295, 10*time.Millisecond // 60s window
	})
	// 100ms × (1 + 2 extensions) / 10ms: 30 probes a step.
	_, err := h.c.Start(ctx, &Override{MinSamples: ptr(31)})
	if !errors.Is(err, ErrInvalidPlan) || !slices.Contains(fieldPaths(err), "rollout.min_samples") {
		t.Fatalf("start with min_samples 31 of 30: %v", err)
	}
	if _, err := h.c.Start(ctx, &Override{MinSamples: ptr(30)}); err != nil {
		t.Fatalf("start with min_samples 30 of 30: %v", err)
	}
}

// With the default plan and only the default probes, two identical,
// error-free backends pass a step at its first gate: one hold of probes
// (300) is enough for min_samples (200) and for error_rate_vs_blue (189
// with no error on either side). With a probe every 200 ms (150 a hold)
// every step took two holds, whatever the client traffic, since the
// gates read only the probe's latencies.
func TestProbeOnlyStepPassesAtItsFirstGate(t *testing.T) {
	p := defaultPlan(t, nil)
	const stepStart = 90*time.Second + 300*time.Millisecond
	h := probeOnlyHealth(t, stepStart+p.Hold.D())
	since := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(stepStart) // handMonitor's start
	g, b := h.SnapshotSince(router.Green, since), h.SnapshotSince(router.Blue, since)
	v := evaluate(p, gateInput{Step: 1, Weight: 10, Green: g, Blue: b})
	if v.Outcome != Pass {
		t.Fatalf("identical error-free backends on the probe alone, one hold: %s (green: %d operations, %d latency samples); reasons %v",
			v.Outcome, g.Total, g.Latencies, v.Reasons)
	}
}

// Samples of a step's extensions accumulate from the step's start: with
// the probe alone, identical error-free backends pass within the step's
// extensions whatever the first gate saw.
func TestProbeOnlyStepPassesWithinItsExtensions(t *testing.T) {
	p := defaultPlan(t, nil)
	const stepStart = 90*time.Second + 300*time.Millisecond // mid-second, the probes long running
	var outcomes []Outcome
	for ext := 0; ext <= p.MaxExtensions; ext++ {
		now := stepStart + time.Duration(ext+1)*p.Hold.D()
		h := probeOnlyHealth(t, now)
		since := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(stepStart) // handMonitor's start
		v := evaluate(p, gateInput{Step: 1, Weight: 10, Extension: ext,
			Green: h.SnapshotSince(router.Green, since), Blue: h.SnapshotSince(router.Blue, since)})
		outcomes = append(outcomes, v.Outcome)
		if v.Outcome == Pass {
			t.Logf("passed at extension %d (outcomes %v)", ext, outcomes)
			return
		}
	}
	t.Fatalf("identical error-free backends on the probe alone: outcomes %v over the step's gates", outcomes)
}
