package rollout

import (
	"fmt"
	"math"
	"time"

	"github.com/baton-rt/baton/internal/rollout/stats"
)

// gateInput is everything a gate looks at.
type gateInput struct {
	Step, Extension int
	Weight          float64
	Now             time.Time
	Green, Blue     BackendHealth
	GreenSessions   int
	BlueSessions    int
	Moves           Preservation // during the step
}

// evaluate runs every check of plan p on in. It is pure: the same input
// gives the same verdict, bootstrap included (seeded by step and extension).
//
// Decision rule: any failed check fails the gate; otherwise any
// inconclusive check makes it inconclusive; otherwise it passes. A check
// without enough data is inconclusive, never a pass: except that green's
// error count alone fails the gate when it already exceeds what MinSamples
// operations may contain, so a crashed green does not wait for its
// extensions; and that at 100 % a comparison with blue whose only missing
// data is blue's passes, since no blue traffic is left to wait for.
func evaluate(p *Plan, in gateInput) Verdict {
	v := Verdict{
		Step: in.Step, Weight: in.Weight, Extension: in.Extension, Time: in.Now,
		Green: measure(in.Green, in.GreenSessions),
		Blue:  measure(in.Blue, in.BlueSessions),
	}
	add := func(c Check) { v.Checks = append(v.Checks, c) }
	minN := int64(p.MinSamples)
	g, b := in.Green, in.Blue

	// Sessions: green must carry real users before it can pass.
	add(atLeast(CheckSessions, float64(in.GreenSessions), float64(p.MinSessions), true,
		fmt.Sprintf("green holds %d sessions, need %d", in.GreenSessions, p.MinSessions)))

	// Absolute error rate.
	rate := v.Green.ErrorRate
	maxRate := p.Thresholds.MaxErrorRate
	c := Check{Name: CheckErrorRate, Value: rate, Limit: maxRate}
	switch {
	case g.Total >= minN && rate <= maxRate:
		c.Outcome, c.Detail = Pass, fmt.Sprintf("green error rate %s ≤ %s", pct(rate), pct(maxRate))
	case g.Total >= minN || float64(g.Errors) > maxRate*float64(minN):
		c.Outcome, c.Detail = Fail, fmt.Sprintf("green error rate %s > %s (%d/%d)", pct(rate), pct(maxRate), g.Errors, g.Total)
	default:
		c.Outcome, c.Detail = Inconclusive, fmt.Sprintf("green has %d operations, need %d", g.Total, minN)
	}
	add(c)

	// Absolute latency.
	// The span's observations count, not the bounded reservoir of them
	// that SamplesMs holds: min_samples may exceed the reservoir.
	gLat, bLat := latencies(g), latencies(b)
	enoughLatency := gLat >= minN
	// Green's other latencies with enough observations are bounded too.
	p95 := func(k KindLatency) time.Duration { return k.P95 }
	p99 := func(k KindLatency) time.Duration { return k.P99 }
	add(slowerKind(latencyCheck(CheckP95, "P95", v.Green.P95.D(), p.Thresholds.MaxP95.D(), enoughLatency, gLat, minN),
		"P95", g.Others, p95, p.Thresholds.MaxP95.D(), minN))
	if p.Thresholds.MaxP99 > 0 {
		add(slowerKind(latencyCheck(CheckP99, "P99", v.Green.P99.D(), p.Thresholds.MaxP99.D(), enoughLatency, gLat, minN),
			"P99", g.Others, p99, p.Thresholds.MaxP99.D(), minN))
	}

	// Preservation: exact counts, so never inconclusive.
	m := in.Moves
	v.Preservation = PreservationRates{
		MovesTried: m.MovesTried, SocketsKept: m.SocketsKept, Connection: share(m.SocketsKept, m.MovesTried),
		SubscriptionsTried: m.SubscriptionsTried, SubscriptionsKept: m.SubscriptionsKept,
		Subscription: share(m.SubscriptionsKept, m.SubscriptionsTried),
	}
	add(atLeast(CheckConnections, v.Preservation.Connection, p.Thresholds.MinConnectionPreservation, false,
		fmt.Sprintf("%d of %d moves kept the client socket", m.SocketsKept, m.MovesTried)))
	add(atLeast(CheckSubscriptions, v.Preservation.Subscription, p.Thresholds.MinSubscriptionPreservation, false,
		fmt.Sprintf("%d of %d subscriptions kept", m.SubscriptionsKept, m.SubscriptionsTried)))

	// At 100 % nobody is left on blue: once the step's span holds too
	// little of its traffic (the probe off: blue served only the sessions
	// still to move) there is no baseline to compare green with, and
	// waiting gives none. The absolute thresholds then decide, green's own
	// evidence still required.
	const noBaseline = "everyone is on green and blue has %d %s since the step began, need %d: no baseline left, the absolute thresholds decide"
	last := in.Weight >= 100

	// Relative: error rates.
	margin := p.NonInferiority.ErrorRateMargin
	c = Check{Name: CheckErrorRateVsBlue, Limit: margin}
	if last && g.Total >= minN && b.Total < minN {
		c.Outcome, c.Detail = Pass, fmt.Sprintf(noBaseline, b.Total, "operations", minN)
	} else if g.Total < minN || b.Total < minN {
		c.Outcome, c.Detail = Inconclusive, fmt.Sprintf("operations green %d, blue %d, need %d each", g.Total, b.Total, minN)
	} else if t, err := stats.TwoProportions(g.Errors, g.Total, b.Errors, b.Total, p.NonInferiority.Confidence); err != nil {
		c.Outcome, c.Detail = Inconclusive, err.Error() // counts from a broken source: no evidence
	} else if !finite(t.Diff, t.CI.Lo, t.CI.Hi, t.Z, t.PTwoSided, t.PGreater) {
		// No evidence, and a verdict holding NaN could not be stored.
		c.Outcome, c.Detail = Inconclusive, "the comparison gave no finite result"
	} else {
		v.ErrorRate = &ErrorRateTest{
			Diff: t.Diff, CILow: t.CI.Lo, CIHigh: t.CI.Hi, Confidence: t.Confidence,
			Z: t.Z, PTwoSided: t.PTwoSided, PGreater: t.PGreater, Margin: margin,
		}
		c.Value = t.CI.Hi
		ci := fmt.Sprintf("green − blue %s, %.0f%% CI [%s, %s], margin %s",
			pct(t.Diff), 100*t.Confidence, pct(t.CI.Lo), pct(t.CI.Hi), pct(margin))
		c.Outcome, c.Detail = relative(t.NonInferior(margin), t.CI.Lo > margin, ci)
	}
	add(c)

	// Relative: P95 latency.
	marginMs := ms(p.NonInferiority.LatencyMargin.D())
	c = Check{Name: CheckLatencyVsBlue, Limit: marginMs}
	if last && gLat >= minN && bLat < minN {
		c.Outcome, c.Detail = Pass, fmt.Sprintf(noBaseline, bLat, "latency samples", minN)
	} else if gLat < minN || bLat < minN {
		c.Outcome, c.Detail = Inconclusive, fmt.Sprintf("latency samples green %d, blue %d, need %d each", gLat, bLat, minN)
	} else {
		gs, bs := g.SamplesMs, b.SamplesMs
		bt, err := stats.BootstrapQuantileDiff(gs, bs, 0.95, stats.BootstrapOptions{
			Confidence: p.NonInferiority.Confidence,
			Seed:       uint64(in.Step)<<16 | uint64(in.Extension),
		})
		mw := stats.MannWhitney(gs, bs)
		switch {
		case err != nil:
			c.Outcome, c.Detail = Inconclusive, err.Error()
		case !finite(bt.Green, bt.Blue, bt.Diff, bt.CI.Lo, bt.CI.Hi, mw.U, mw.Z, mw.PGreater, mw.CommonLanguage):
			c.Outcome, c.Detail = Inconclusive, "the comparison gave no finite result"
		default:
			v.Latency = &LatencyTest{
				P95GreenMs: bt.Green, P95BlueMs: bt.Blue, DiffMs: bt.Diff,
				CILowMs: bt.CI.Lo, CIHighMs: bt.CI.Hi, Confidence: bt.Confidence,
				Resamples: bt.Resamples, MarginMs: marginMs,
				U: mw.U, Z: mw.Z, PGreater: mw.PGreater, Exact: mw.Exact, CommonLanguage: mw.CommonLanguage,
			}
			c.Value = bt.CI.Hi
			ci := fmt.Sprintf("P95 green − blue %.1fms, %.0f%% CI [%.1f, %.1f]ms, margin %.1fms (Mann-Whitney p=%.3g)",
				bt.Diff, 100*bt.Confidence, bt.CI.Lo, bt.CI.Hi, marginMs, mw.PGreater)
			c.Outcome, c.Detail = relative(bt.NonInferior(stats.Margin{Abs: marginMs}), bt.CI.Lo > marginMs, ci)
		}
	}
	add(c)

	v.Outcome = Pass
	for _, c := range v.Checks {
		switch c.Outcome {
		case Fail:
			v.Outcome = Fail
		case Inconclusive:
			if v.Outcome == Pass {
				v.Outcome = Inconclusive
			}
		}
		if c.Outcome != Pass {
			v.Reasons = append(v.Reasons, c.Name+": "+c.Detail)
		}
	}
	return v
}

// relative turns a non-inferiority test into an outcome: pass when the
// upper bound is within the margin, fail when even the lower bound is
// beyond it, inconclusive in between.
func relative(nonInferior, inferior bool, detail string) (Outcome, string) {
	switch {
	case nonInferior:
		return Pass, detail
	case inferior:
		return Fail, detail
	}
	return Inconclusive, detail
}

// atLeast checks value ≥ limit; inconclusive instead of fail when soft.
func atLeast(name string, value, limit float64, soft bool, detail string) Check {
	c := Check{Name: name, Value: value, Limit: limit, Detail: detail, Outcome: Pass}
	if value < limit {
		c.Outcome = Fail
		if soft {
			c.Outcome = Inconclusive
		}
	}
	return c
}

func latencyCheck(name, label string, got, limit time.Duration, enough bool, n, minN int64) Check {
	c := Check{Name: name, Value: ms(got), Limit: ms(limit)}
	switch {
	case !enough:
		c.Outcome, c.Detail = Inconclusive, fmt.Sprintf("green has %d latency samples, need %d", n, minN)
	case got <= limit:
		c.Outcome, c.Detail = Pass, fmt.Sprintf("green %s %v ≤ %v", label, got, limit)
	default:
		c.Outcome, c.Detail = Fail, fmt.Sprintf("green %s %v > %v", label, got, limit)
	}
	return c
}

// slowerKind fails c when one of green's other latencies, with at least
// minN observations, is above limit: the slowest of them is named.
func slowerKind(c Check, label string, others []KindLatency, q func(KindLatency) time.Duration, limit time.Duration, minN int64) Check {
	if c.Outcome == Fail {
		return c
	}
	var worst *KindLatency
	for i, o := range others {
		if o.Count >= minN && q(o) > limit && (worst == nil || q(o) > q(*worst)) {
			worst = &others[i]
		}
	}
	if worst == nil {
		return c
	}
	got := q(*worst)
	return Check{Name: c.Name, Outcome: Fail, Value: ms(got), Limit: ms(limit),
		Detail: fmt.Sprintf("green %s %s %v > %v", worst.Kind, label, got, limit)}
}

// measure summarises one backend; quantiles missing from the source are
// computed from its samples.
func measure(h BackendHealth, sessions int) Measure {
	m := Measure{
		Sessions: sessions, Total: h.Total, Errors: h.Errors,
		P50: Duration(h.P50), P95: Duration(h.P95), P99: Duration(h.P99), Samples: len(h.SamplesMs),
	}
	if h.Total > 0 {
		m.ErrorRate = float64(h.Errors) / float64(h.Total)
	}
	if len(h.SamplesMs) > 0 && (h.P50 == 0 || h.P95 == 0 || h.P99 == 0) {
		q := stats.Quantiles(h.SamplesMs, 0.5, 0.95, 0.99)
		for i, d := range []*Duration{&m.P50, &m.P95, &m.P99} {
			if *d == 0 {
				*d = fromMs(q[i])
			}
		}
	}
	return m
}

// latencies is how many latency observations h's span holds.
func latencies(h BackendHealth) int64 {
	return max(h.Latencies, int64(len(h.SamplesMs)))
}

// finite reports whether every x is a finite number.
func finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func share(kept, tried uint64) float64 {
	if tried == 0 {
		return 1
	}
	return float64(min(kept, tried)) / float64(tried)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMs(v float64) Duration { return Duration(v * float64(time.Millisecond)) }

func pct(f float64) string { return fmt.Sprintf("%.3g%%", 100*f) }
