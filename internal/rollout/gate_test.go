package rollout

import (
	"math"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

func defaultPlan(t *testing.T, o *Override) *Plan {
	t.Helper()
	p, err := NewPlan(config.Rollout{}, o)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func healthyInput() gateInput {
	return gateInput{Step: 1, Weight: 10, Green: healthy(1000, 0), Blue: healthy(1000, 0), GreenSessions: 100, BlueSessions: 900}
}

// halfPointMargin tightens the error-rate margin to half a percentage
// point (the default is two), for checks of the comparison's outcomes.
var halfPointMargin = &Override{NonInferiority: &NonInferiorityOverride{ErrorRateMargin: ptr(0.005)}}

func TestGateChecks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       *Override
		mod     func(*gateInput)
		check   string
		want    Outcome
		verdict Outcome
	}{
		{name: "healthy", check: CheckErrorRateVsBlue, want: Pass, verdict: Pass},
		{name: "few sessions", o: &Override{MinSessions: ptr(500)}, check: CheckSessions, want: Inconclusive, verdict: Inconclusive},
		{name: "errors above the limit", mod: func(in *gateInput) { in.Green.Errors = 20 }, check: CheckErrorRate, want: Fail, verdict: Fail},
		{name: "few operations, no errors", mod: func(in *gateInput) { in.Green = healthy(50, 0) }, check: CheckErrorRate, want: Inconclusive, verdict: Inconclusive},
		// 2 errors in 10 operations: more than 1 % of the 100 required, so
		// more traffic cannot save it.
		{name: "few operations, many errors", o: &Override{MinSamples: ptr(100)}, mod: func(in *gateInput) { in.Green = healthy(10, 0); in.Green.Errors = 2 }, check: CheckErrorRate, want: Fail, verdict: Fail},
		{name: "slow P95", mod: func(in *gateInput) { in.Green.P95 = 600 * time.Millisecond }, check: CheckP95, want: Fail, verdict: Fail},
		{name: "P99 unchecked by default", mod: func(in *gateInput) { in.Green.P99 = time.Hour }, check: CheckP99, want: "", verdict: Pass},
		{name: "slow P99", o: &Override{Thresholds: &ThresholdsOverride{MaxP99: ptr(Duration(time.Second))}},
			mod: func(in *gateInput) { in.Green.P99 = 2 * time.Second }, check: CheckP99, want: Fail, verdict: Fail},
		{name: "sockets lost", mod: func(in *gateInput) { in.Moves = Preservation{MovesTried: 1000, SocketsKept: 998} }, check: CheckConnections, want: Fail, verdict: Fail},
		{name: "sockets kept", mod: func(in *gateInput) { in.Moves = Preservation{MovesTried: 1000, SocketsKept: 999} }, check: CheckConnections, want: Pass, verdict: Pass},
		{name: "subscription lost", mod: func(in *gateInput) { in.Moves = Preservation{SubscriptionsTried: 5000, SubscriptionsKept: 4999} }, check: CheckSubscriptions, want: Fail, verdict: Fail},
		// 0.6 % against 0.1 %: within the absolute 1 %; the difference
		// straddles a 0.5 point margin.
		{name: "error rate maybe worse than blue", o: halfPointMargin, mod: func(in *gateInput) {
			in.Green, in.Blue = healthy(20000, 0), healthy(20000, 0)
			in.Green.Errors, in.Blue.Errors = 120, 20
		}, check: CheckErrorRateVsBlue, want: Inconclusive, verdict: Inconclusive},
		// 0.8 % against 0.1 %: even the CI's lower end is beyond the margin.
		{name: "error rate worse than blue", o: halfPointMargin, mod: func(in *gateInput) {
			in.Green, in.Blue = healthy(20000, 0), healthy(20000, 0)
			in.Green.Errors, in.Blue.Errors = 160, 20
		}, check: CheckErrorRateVsBlue, want: Fail, verdict: Fail},
		{name: "blue without traffic", mod: func(in *gateInput) { in.Blue = healthy(10, 0) }, check: CheckErrorRateVsBlue, want: Inconclusive, verdict: Inconclusive},
		{name: "latency within margin", mod: func(in *gateInput) { in.Green = healthy(1000, 20*time.Millisecond) }, check: CheckLatencyVsBlue, want: Pass, verdict: Pass},
		{name: "latency beyond margin", mod: func(in *gateInput) { in.Green = healthy(1000, 100*time.Millisecond) }, check: CheckLatencyVsBlue, want: Fail, verdict: Fail},
		{name: "inconsistent counts", mod: func(in *gateInput) { in.Green.Errors = -1 }, check: CheckErrorRateVsBlue, want: Inconclusive, verdict: Inconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := healthyInput()
			if tc.mod != nil {
				tc.mod(&in)
			}
			v := evaluate(defaultPlan(t, tc.o), in)
			if got := checkOutcome(v, tc.check); got != tc.want || v.Outcome != tc.verdict {
				t.Errorf("%s: %s, verdict %s, want %s and %s; reasons %v", tc.check, got, v.Outcome, tc.want, tc.verdict, v.Reasons)
			}
			if (v.Outcome == Pass) != (len(v.Reasons) == 0) {
				t.Errorf("verdict %s with reasons %v", v.Outcome, v.Reasons)
			}
			for _, c := range v.Checks {
				if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
					t.Errorf("%s: value %v", c.Name, c.Value)
				}
			}
		})
	}
}

// The same input gives the same verdict, bootstrap interval included.
func TestGateDeterministic(t *testing.T) {
	p := defaultPlan(t, nil)
	in := healthyInput()
	in.Green = healthy(1000, 30*time.Millisecond)
	a, b := evaluate(p, in), evaluate(p, in)
	if *a.Latency != *b.Latency || *a.ErrorRate != *b.ErrorRate {
		t.Errorf("%+v\n%+v", a.Latency, b.Latency)
	}
}

// MonitorHealth hands the health package's window to the gates.
func TestMonitorHealth(t *testing.T) {
	m, err := health.New(health.Config{Window: 10 * time.Second, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := m.Backend(router.Green)
	g.Add(health.Requests, 200)
	g.Add(health.ErrorReplies, 3)
	for i := range 150 {
		g.Observe(health.RequestAck, time.Duration(10+i%10)*time.Millisecond)
		g.Observe(health.ProbeDelivery, time.Second) // another kind: not mixed in
	}
	hs := NewMonitorHealth(m, health.RequestAck, nil)
	got := hs.Snapshot(router.Green)
	if got.Total != 200 || got.Errors != 3 || len(got.SamplesMs) != 150 || got.P95 < 18*time.Millisecond || got.P95 > 20*time.Millisecond {
		t.Errorf("snapshot total %d errors %d samples %d P95 %v", got.Total, got.Errors, len(got.SamplesMs), got.P95)
	}
	for _, s := range got.SamplesMs {
		if s < 10 || s > 20 {
			t.Fatalf("sample %vms from another kind", s)
		}
	}
	if b := hs.Snapshot(router.Blue); b.Total != 0 || len(b.SamplesMs) != 0 {
		t.Errorf("blue %+v", b)
	}
	if hs.Preservation() != (Preservation{}) {
		t.Error("preservation without a source")
	}
}
