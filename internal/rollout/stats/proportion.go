package stats

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidCounts is returned for counts that cannot describe a sample:
// negative numbers, or more errors than trials.
var ErrInvalidCounts = errors.New("stats: invalid counts")

// Interval is a closed interval [Lo, Hi].
type Interval struct {
	Lo, Hi float64
}

// Contains reports whether x is in [Lo, Hi].
func (iv Interval) Contains(x float64) bool { return iv.Lo <= x && x <= iv.Hi }

// ProportionTest is the comparison of green's error rate with blue's.
type ProportionTest struct {
	GreenErrors, GreenTotal int64
	BlueErrors, BlueTotal   int64

	// PGreen and PBlue are the observed rates, errors/total; 0 for an empty
	// sample.
	PGreen, PBlue float64
	// Diff is PGreen − PBlue.
	Diff float64

	// Z is the pooled two-proportion z statistic,
	//	(PGreen − PBlue) / sqrt(p̄(1−p̄)(1/nGreen + 1/nBlue)),
	// with p̄ the pooled rate. It is 0 when the test is Degenerate.
	Z float64
	// PTwoSided tests H1: the rates differ. PGreater tests H1: green's rate
	// is higher; PLess tests H1: green's rate is lower. All three are 1, 0.5
	// and 0.5 when the test is Degenerate.
	PTwoSided, PGreater, PLess float64

	// Confidence is the level of both intervals (0.95 when the caller
	// passed a value outside (0, 1)).
	Confidence float64
	// CI is the interval of PGreen − PBlue by Newcombe's hybrid score method
	// (method 10 of Newcombe 1998, built from the two Wilson score
	// intervals). It is the interval to gate on: it stays inside [−1, 1],
	// has close to nominal coverage for small samples, and is informative
	// when either sample has zero errors, where the Wald interval collapses
	// to a point. An empty sample gives [−1, 1]-wide uncertainty on its side.
	CI Interval
	// WaldCI is Diff ± z·sqrt(pG(1−pG)/nG + pB(1−pB)/nB), clipped to
	// [−1, 1]. Reported for reference only: it under-covers badly when a
	// rate is near 0 — which is exactly where error rates live.
	WaldCI Interval

	// Degenerate is true when no z-test is possible: a sample is empty, or
	// the pooled rate is 0 or 1 (no variance). The intervals are still
	// valid.
	Degenerate bool
}

// TwoProportions compares greenErrors/greenTotal with blueErrors/blueTotal.
// confidence is the level of the intervals, e.g. 0.95; a value outside
// (0, 1) means 0.95. Zero totals and zero counts are allowed and never give
// NaN; negative counts or errors > total return ErrInvalidCounts.
func TwoProportions(greenErrors, greenTotal, blueErrors, blueTotal int64, confidence float64) (ProportionTest, error) {
	if greenErrors < 0 || blueErrors < 0 || greenErrors > greenTotal || blueErrors > blueTotal {
		return ProportionTest{}, fmt.Errorf("%w: green %d/%d, blue %d/%d", ErrInvalidCounts, greenErrors, greenTotal, blueErrors, blueTotal)
	}
	conf := validConfidence(confidence)
	zc := zCritical(conf)
	t := ProportionTest{
		GreenErrors: greenErrors, GreenTotal: greenTotal,
		BlueErrors: blueErrors, BlueTotal: blueTotal,
		PGreen:     rate(greenErrors, greenTotal),
		PBlue:      rate(blueErrors, blueTotal),
		Confidence: conf,
	}
	t.Diff = t.PGreen - t.PBlue

	n1, n2 := float64(greenTotal), float64(blueTotal)
	if greenTotal > 0 && blueTotal > 0 {
		pooled := (float64(greenErrors) + float64(blueErrors)) / (n1 + n2)
		se := math.Sqrt(pooled * (1 - pooled) * (1/n1 + 1/n2))
		if se > 0 {
			t.Z = t.Diff / se
		} else {
			t.Degenerate = true
		}
	} else {
		t.Degenerate = true
	}
	t.PTwoSided, t.PGreater, t.PLess = pValues(t.Z)

	// Newcombe method 10: combine the distances from each rate to its own
	// Wilson limits; the lower limit of the difference pairs green's lower
	// with blue's upper limit, and vice versa.
	l1, u1 := wilson(greenErrors, greenTotal, zc)
	l2, u2 := wilson(blueErrors, blueTotal, zc)
	t.CI = Interval{
		Lo: t.Diff - math.Hypot(t.PGreen-l1, u2-t.PBlue),
		Hi: t.Diff + math.Hypot(u1-t.PGreen, t.PBlue-l2),
	}
	t.CI.Lo, t.CI.Hi = max(t.CI.Lo, -1), min(t.CI.Hi, 1)

	var se float64
	if greenTotal > 0 {
		se += t.PGreen * (1 - t.PGreen) / n1
	}
	if blueTotal > 0 {
		se += t.PBlue * (1 - t.PBlue) / n2
	}
	half := zc * math.Sqrt(se)
	t.WaldCI = Interval{Lo: max(t.Diff-half, -1), Hi: min(t.Diff+half, 1)}
	return t, nil
}

// NonInferior reports whether green's error rate is, at the test's
// confidence, at most margin above blue's: the upper limit of CI is ≤
// margin. With the default 95 % two-sided interval this is a one-sided test
// at the 2.5 % level. An empty sample never passes (its CI reaches 1).
func (t ProportionTest) NonInferior(margin float64) bool {
	return t.CI.Hi <= margin
}

// rate is x/n, 0 for an empty sample.
func rate(x, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(x) / float64(n)
}

// wilson returns the Wilson score interval of x/n at critical value z. An
// empty sample knows nothing: [0, 1].
func wilson(x, n int64, z float64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(x) / nf
	z2 := z * z
	denom := 1 + z2/nf
	center := (p + z2/(2*nf)) / denom
	half := z / denom * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	lo, hi = max(center-half, 0), min(center+half, 1)
	// Exact ends: at x = 0 (or x = n) the limit is exactly 0 (or 1); the
	// formula gets there only up to rounding.
	if x == 0 {
		lo = 0
	}
	if x == n {
		hi = 1
	}
	return lo, hi
}
