package rollout

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/alert"
	"github.com/baton-rt/baton/internal/router"
)

var ctx = context.Background()

var allSteps = []router.Weight{1000, 2500, 5000, 7500, 10000}

func TestHealthyCompletes(t *testing.T) {
	h := newHarness(t)
	st, err := h.c.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != Preparing || st.ID == "" {
		t.Fatalf("after Start: %s id %q", st.Phase, st.ID)
	}
	st = h.waitPhase(h.c, Completed)

	if got := h.shifter.Calls(); !slices.Equal(got, allSteps) {
		t.Errorf("weights applied %v, want %v", got, allSteps)
	}
	if st.Weight != router.Full || st.Step != 5 || st.EndedAt.IsZero() {
		t.Errorf("final state: step %d weight %v ended %v", st.Step, st.Weight, st.EndedAt)
	}
	if len(st.Verdicts) != 5 {
		t.Fatalf("%d verdicts, want 5", len(st.Verdicts))
	}
	for _, v := range st.Verdicts {
		if v.Outcome != Pass || v.ErrorRate == nil || v.Latency == nil {
			t.Errorf("step %d verdict %s (reasons %v)", v.Step, v.Outcome, v.Reasons)
		}
	}
	for i, r := range st.Steps {
		if r.Step != i+1 || r.Outcome != Pass || r.AppliedAt.IsZero() || r.EndedAt.IsZero() {
			t.Errorf("step record %d: %+v", i, r)
		}
	}

	kinds := eventKinds(h.storedEvents())
	for k, n := range map[EventKind]int{EventStarted: 1, EventGreenReady: 1, EventStepStarted: 5, EventStepApplied: 5,
		EventVerdict: 5, EventStepPassed: 5, EventCompleted: 1, EventGateFailed: 0} {
		if got := count(kinds, k); got != n {
			t.Errorf("%d %s events stored, want %d (all: %v)", got, k, n, kinds)
		}
	}
	wantAlerts := []alert.Kind{alert.KindStarted, alert.KindStepPassed, alert.KindStepPassed, alert.KindStepPassed,
		alert.KindStepPassed, alert.KindStepPassed, alert.KindCompleted}
	if got := h.notifier.kinds(); !slices.Equal(got, wantAlerts) {
		t.Errorf("alerts %v, want %v", got, wantAlerts)
	}
}

func TestErrorRateGateRollsBack(t *testing.T) {
	h := newHarness(t)
	g := healthy(1000, 0)
	g.Errors = 50 // 5 % > 1 %
	h.health.setGreen(g)
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st := h.waitPhase(h.c, RolledBack)
	if got, want := h.shifter.Calls(), []router.Weight{1000, 0}; !slices.Equal(got, want) {
		t.Errorf("weights %v, want %v", got, want)
	}
	v, _ := st.LastVerdict()
	if v.Outcome != Fail || checkOutcome(v, CheckErrorRate) != Fail || v.Green.ErrorRate != 0.05 {
		t.Errorf("verdict %s, error-rate check %s, green rate %v", v.Outcome, checkOutcome(v, CheckErrorRate), v.Green.ErrorRate)
	}
	if v.ErrorRate == nil || v.ErrorRate.CILow <= 0 || v.ErrorRate.PGreater > 0.001 {
		t.Errorf("z-test numbers missing or wrong: %+v", v.ErrorRate)
	}
	if st.Weight != 0 || st.Reason == "" {
		t.Errorf("weight %v reason %q", st.Weight, st.Reason)
	}
	want := []alert.Kind{alert.KindStarted, alert.KindGateFailed, alert.KindRollbackStarted, alert.KindRollbackFinished}
	if got := h.notifier.kinds(); !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

func TestLatencyNonInferiorityRollsBack(t *testing.T) {
	h := newHarness(t)
	h.health.setGreen(healthy(1000, 80*time.Millisecond)) // P95 ~108ms: within 500ms, but 80ms > 50ms margin over blue
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st := h.waitPhase(h.c, RolledBack)
	v, _ := st.LastVerdict()
	if checkOutcome(v, CheckP95) != Pass || checkOutcome(v, CheckLatencyVsBlue) != Fail {
		t.Errorf("absolute P95 %s, relative %s; reasons %v", checkOutcome(v, CheckP95), checkOutcome(v, CheckLatencyVsBlue), v.Reasons)
	}
	if l := v.Latency; l == nil || l.CILowMs <= 50 || l.PGreater > 0.001 || l.Resamples == 0 {
		t.Errorf("latency test numbers: %+v", l)
	}
}

func TestInconclusiveExtendsThenFails(t *testing.T) {
	h := newHarness(t)
	h.health.setGreen(healthy(20, 0)) // below MinSamples (100)
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st := h.waitPhase(h.c, RolledBack)
	if len(st.Verdicts) != 3 {
		t.Fatalf("%d verdicts, want 3 (one plus two extensions)", len(st.Verdicts))
	}
	for i, v := range st.Verdicts {
		if v.Outcome != Inconclusive || v.Extension != i {
			t.Errorf("verdict %d: %s extension %d", i, v.Outcome, v.Extension)
		}
	}
	kinds := eventKinds(h.storedEvents())
	if count(kinds, EventStepExtended) != 2 || count(kinds, EventGateFailed) != 1 {
		t.Errorf("events %v", kinds)
	}
	if got, want := h.shifter.Calls(), []router.Weight{1000, 0}; !slices.Equal(got, want) {
		t.Errorf("weights %v, want %v", got, want)
	}
}

func TestGreenCheckFailsRollsBack(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Prober = fakeProber{err: errors.New("dial refused")} })
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st := h.waitPhase(h.c, RolledBack)
	if st.Step != 0 || !slices.Equal(h.shifter.Calls(), []router.Weight{0}) {
		t.Errorf("step %d weights %v: nobody should have moved to green", st.Step, h.shifter.Calls())
	}
}

func TestPauseResume(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = 100 * time.Millisecond })
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	paused, err := h.c.Pause(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if paused.Phase != Paused || paused.PausedFrom != Shifting {
		t.Fatalf("after Pause: %s from %s", paused.Phase, paused.PausedFrom)
	}
	calls := len(h.shifter.Calls())
	time.Sleep(300 * time.Millisecond) // three holds: nothing may move
	if st := h.c.Status(); st.Phase != Paused || st.Step != paused.Step || len(h.shifter.Calls()) != calls {
		t.Fatalf("while paused: %s step %d, %d weight calls (was %d)", st.Phase, st.Step, len(h.shifter.Calls()), calls)
	}
	if _, err := h.c.Pause(ctx); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("second Pause: %v", err)
	}
	if _, err := h.c.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, Completed)
	if got := h.shifter.Calls(); !slices.Equal(got, allSteps) {
		t.Errorf("weights %v, want %v", got, allSteps)
	}
	kinds := eventKinds(h.storedEvents())
	if count(kinds, EventPaused) != 1 || count(kinds, EventResumed) != 1 {
		t.Errorf("events %v", kinds)
	}
}

func TestPromote(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = time.Hour })
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	if _, err := h.c.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	st := h.waitPhase(h.c, Completed)
	if got, want := h.shifter.Calls(), []router.Weight{1000, 10000}; !slices.Equal(got, want) {
		t.Errorf("weights %v, want %v", got, want)
	}
	if !st.Promoted || st.Weight != router.Full || st.Step != 5 || len(st.Verdicts) != 0 {
		t.Errorf("promoted state: %+v", st)
	}
}

func TestAbortStopsWhereItStands(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = time.Hour })
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	st, err := h.c.Abort(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != Aborted || st.Weight != 1000 {
		t.Errorf("after Abort: %s weight %v", st.Phase, st.Weight)
	}
	if got := h.shifter.Calls(); !slices.Equal(got, []router.Weight{1000}) {
		t.Errorf("weights %v: abort must not move anyone", got)
	}
	if _, err := h.c.Abort(ctx); err == nil {
		t.Error("second Abort succeeded")
	}
	// A new rollout may start after an abort.
	if _, err := h.c.Start(ctx, &Override{Hold: ptr(Duration(time.Millisecond))}); err != nil {
		t.Fatalf("Start after abort: %v", err)
	}
	h.waitPhase(h.c, Completed)
}

func TestEmergencyRollbackInterruptsMoves(t *testing.T) {
	h := newHarness(t)
	h.startStuckAt(2500) // the second step's moves never end by themselves
	st, err := h.c.EmergencyRollback(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != RollingBack || !st.Emergency {
		t.Fatalf("after EmergencyRollback: %s emergency %v", st.Phase, st.Emergency)
	}
	st = h.waitPhase(h.c, RolledBack)
	calls, paces := h.shifter.Calls(), h.shifter.Paces()
	if !slices.Equal(calls, []router.Weight{1000, 2500, 0}) || paces[len(paces)-1] != Unpaced {
		t.Errorf("weights %v paces %v: want the last at 0, unpaced", calls, paces)
	}
	if _, err := h.c.EmergencyRollback(ctx); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("emergency after rolled back: %v", err)
	}
	h.notifier.mu.Lock()
	defer h.notifier.mu.Unlock()
	var critical bool
	for _, e := range h.notifier.events {
		critical = critical || (e.Kind == alert.KindRollbackStarted && e.Severity == alert.SeverityCritical)
	}
	if !critical {
		t.Error("no critical rollback_started alert")
	}
}

func TestRollbackAtPlanPace(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = time.Hour })
	if _, err := h.c.Start(ctx, &Override{MovesPerSecond: ptr(200)}); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	h.shifter.mu.Lock()
	h.shifter.fail[0] = 3 // the first rollback attempt leaves three sessions behind
	h.shifter.mu.Unlock()
	if _, err := h.c.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	st := h.waitPhase(h.c, RolledBack)
	if got, want := h.shifter.Calls(), []router.Weight{1000, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("weights %v, want %v (a retry for the failed moves)", got, want)
	}
	if got := h.shifter.Paces(); !slices.Equal(got, []int{200, 200, 200}) {
		t.Errorf("paces %v, want the plan's 200", got)
	}
	evs := h.storedEvents()
	last := evs[len(evs)-1]
	if last.Kind != EventRollbackFinished || last.Failed != 0 || st.Reason != "rollback requested by operator" {
		t.Errorf("last event %+v, reason %q", last, st.Reason)
	}
}

func TestInvalidTransitions(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = time.Hour })
	c := h.c
	for name, cmd := range map[string]func(context.Context) (State, error){
		"pause": c.Pause, "resume": c.Resume, "promote": c.Promote, "rollback": c.Rollback,
		"abort": c.Abort, "emergency": c.EmergencyRollback,
	} {
		_, err := cmd(ctx)
		var te *TransitionError
		if !errors.As(err, &te) || te.Phase != Idle || !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("%s while idle: %v", name, err)
		}
	}
	if _, err := c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(c, 1)
	_, err := c.Start(ctx, nil)
	if p, ok := PhaseOf(err); !ok || p != Shifting {
		t.Errorf("Start while shifting: %v", err)
	}
	if _, err := c.Resume(ctx); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("Resume while shifting: %v", err)
	}
	if _, err := c.EmergencyRollback(ctx); err != nil {
		t.Fatal(err)
	}
	// A second emergency while the first runs, or after it ended, is refused.
	_, err = c.EmergencyRollback(ctx)
	var te *TransitionError
	if !errors.As(err, &te) || (te.Phase == RollingBack && !te.Emergency) {
		t.Errorf("second emergency: %v", err)
	}
	h.waitPhase(c, RolledBack)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pause(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Pause after Close: %v", err)
	}
}

func TestStartRejectsBadPlan(t *testing.T) {
	h := newHarness(t)
	_, err := h.c.Start(ctx, &Override{Steps: []float64{10, 5, 100}, Hold: ptr(Duration(-time.Second))})
	if !errors.Is(err, ErrInvalidPlan) {
		t.Fatalf("err %v", err)
	}
	paths := fieldPaths(err)
	if !slices.Contains(paths, "rollout.steps[1]") || !slices.Contains(paths, "rollout.hold") {
		t.Errorf("fields named %v", paths)
	}
	if st := h.c.Status(); st.Phase != Idle {
		t.Errorf("phase %s after a refused start", st.Phase)
	}
}

func TestTestModeShortensHolds(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Plan.Hold = time.Hour
		o.TestMode, o.TestHold = true, 2*time.Millisecond
	})
	st, err := h.c.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Plan.Hold.D() != 2*time.Millisecond {
		t.Errorf("hold %v in test mode", st.Plan.Hold)
	}
	h.waitPhase(h.c, Completed)
}

func TestSubscribeDropsOldest(t *testing.T) {
	h := newHarness(t)
	all := h.c.Subscribe(1024)
	one := h.c.Subscribe(1)
	defer one.Close()
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var got []EventKind
	timeout := time.After(10 * time.Second)
	for len(got) == 0 || got[len(got)-1] != EventCompleted {
		select {
		case e := <-all.C():
			got = append(got, e.Kind)
		case <-timeout:
			t.Fatalf("no completion; events so far %v", got)
		}
	}
	// The controller emits under its lock: once it is free, every
	// subscriber has been offered the last event.
	h.c.mu.Lock()
	//lint:ignore SA2001 an empty critical section is the barrier
	h.c.mu.Unlock()
	e := <-one.C()
	if e.Kind != EventCompleted || one.Dropped() == 0 {
		t.Errorf("slow subscriber holds %s, dropped %d", e.Kind, one.Dropped())
	}
	all.Close()
	if _, open := <-all.C(); open {
		t.Error("channel open after Close")
	}
	if want := eventKinds(h.storedEvents()); !slices.Equal(got, want) || all.Dropped() != 0 {
		t.Errorf("subscriber saw %v, store has %v", got, want)
	}
}

func checkOutcome(v Verdict, name string) Outcome {
	for _, c := range v.Checks {
		if c.Name == name {
			return c.Outcome
		}
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

// TestStandbyWhileActive: the shifter keeps standbys during every weight
// change of a rollout, the rollback's included, and drops them when the
// rollout has ended.
func TestStandbyWhileActive(t *testing.T) {
	h := newHarness(t)
	if on, _ := h.shifter.standbys(); on {
		t.Fatal("standbys on before any rollout")
	}
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, Completed)
	on, at := h.shifter.standbys()
	if on || len(at) == 0 || slices.Contains(at, false) {
		t.Errorf("completed: standby now %v, at each weight change %v; want off now, on at every change", on, at)
	}

	if _, err := h.c.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, RolledBack)
	on, at = h.shifter.standbys()
	if on || at[len(at)-1] != true {
		t.Errorf("rolled back: standby now %v, at the rollback's weight change %v; want off now, on then", on, at[len(at)-1])
	}
}

// A weight set by hand and a rollout's start exclude each other: the
// start is refused while the hand-set weight is being applied, and the
// hand-set weight is refused once a rollout is active.
func TestWeightByHandExcludesStart(t *testing.T) {
	h := newHarness(t)
	inSet, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// 5 %, below the plan's first step: a start from a higher weight
		// is refused for that (TestStartBelowTheCurrentWeightIsRefused).
		done <- h.c.SetWeightByHand(ctx, 500, func(context.Context) error {
			close(inSet)
			<-release
			return nil
		})
	}()
	<-inSet
	_, err := h.c.Start(ctx, nil)
	var te *TransitionError
	if !errors.As(err, &te) || !te.ByHand {
		t.Fatalf("start during a hand-set weight: %v, want a TransitionError (ByHand)", err)
	}
	if st := h.c.Status(); st.Phase != Idle {
		t.Fatalf("phase %s after the refused start", st.Phase)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	h.startStuckAt(1000)
	ran := false
	err = h.c.SetWeightByHand(ctx, 5000, func(context.Context) error { ran = true; return nil })
	if !errors.As(err, &te) || te.Op != OpSetWeight || te.Phase != Shifting || ran {
		t.Fatalf("hand-set weight during a rollout: %v (ran %v), want a TransitionError in shifting", err, ran)
	}
}

// A plan asking for more latency samples than a health window can hold is
// refused at the start, naming min_samples: its gates could never pass.
func TestStartRefusesUnreachableMinSamples(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxMinSamples = 300 })
	_, err := h.c.Start(ctx, &Override{MinSamples: ptr(301)})
	if !errors.Is(err, ErrInvalidPlan) || !slices.Contains(fieldPaths(err), "rollout.min_samples") {
		t.Fatalf("start with min_samples 301 of 300: %v", err)
	}
	if _, err := h.c.Start(ctx, &Override{MinSamples: ptr(300)}); err != nil {
		t.Fatalf("start with min_samples 300 of 300: %v", err)
	}
}

// A restart comes back to the weight the gateway was left at when no
// rollout was active: a completed rollout's 100 %, or a weight set by
// hand afterwards, whatever the startup weight of the config.
func TestRestartComesBackToTheLastWeight(t *testing.T) {
	h := newHarness(t)
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, Completed)
	_ = h.c.Close()

	restarted := newShifter()
	h.opts.Shifter = restarted
	c := h.open()
	h.waitFor(c, "the completed rollout's weight applied", func(State) bool {
		return slices.Contains(restarted.Calls(), router.Full)
	})

	if err := c.SetWeightByHand(ctx, 2500, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Weight != 2500 || st.Phase != Completed {
		t.Fatalf("after a weight set by hand: %s at %v", st.Phase, st.Weight)
	}
	_ = c.Close()
	again := newShifter()
	h.opts.Shifter = again
	c = h.open()
	h.waitFor(c, "the hand-set weight applied", func(State) bool {
		return slices.Contains(again.Calls(), router.Weight(2500))
	})
}

// TestPrepareNext: with prepare_next, each step but the last has the
// next step's moves prepared once, during its hold (the weight applied
// is the step's own then); without it, nothing is prepared.
func TestPrepareNext(t *testing.T) {
	for _, on := range []bool{true, false} {
		h := newHarness(t, func(o *Options) {
			o.Plan.PrepareNext = on
			o.Plan.Hold = 200 * time.Millisecond // a hold the driver's round surely starts within
		})
		if _, err := h.c.Start(ctx, nil); err != nil {
			t.Fatal(err)
		}
		h.waitPhase(h.c, Completed)
		var want [][2]router.Weight
		if on {
			for i := 0; i+1 < len(allSteps); i++ {
				want = append(want, [2]router.Weight{allSteps[i+1], allSteps[i]})
			}
		}
		if got := h.shifter.Prepares(); !slices.Equal(got, want) {
			t.Errorf("prepare_next %v: prepared (weight, while at) %v, want %v", on, got, want)
		}
	}
}

// TestPrepareNextAtPlanPace: the dials that prepare the next step go at
// the plan's moves_per_second, as that step's moves would: green sees no
// more connections per second from a preparation than from the step.
func TestPrepareNextAtPlanPace(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Plan.PrepareNext = true
		o.Plan.Hold = 200 * time.Millisecond
	})
	if _, err := h.c.Start(ctx, &Override{MovesPerSecond: ptr(200)}); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(h.c, Completed)
	want := make([]int, len(allSteps)-1)
	for i := range want {
		want[i] = 200
	}
	if got := h.shifter.PreparePaces(); !slices.Equal(got, want) {
		t.Errorf("preparations paced %v, want the plan's 200 each", got)
	}
}
