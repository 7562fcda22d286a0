package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
)

// ErrEmptySample is returned when a sample has no finite values.
var ErrEmptySample = errors.New("stats: empty sample")

// Bootstrap defaults and bounds.
const (
	DefaultResamples = 2000
	// MaxResamples caps BootstrapOptions.Resamples so that one gate cannot
	// burn unbounded CPU; each resample costs O(n1 + n2).
	MaxResamples = 100_000
)

// BootstrapOptions configure BootstrapQuantileDiff.
type BootstrapOptions struct {
	// Resamples is the number B of bootstrap resamples. Zero or negative
	// means DefaultResamples; values above MaxResamples are clamped.
	Resamples int
	// Confidence is the level of the interval; outside (0, 1) means 0.95.
	Confidence float64
	// Seed seeds the PCG generator: the same seed and samples give the same
	// interval, bit for bit.
	Seed uint64
}

// BootstrapResult is the percentile-bootstrap interval of a quantile
// difference.
type BootstrapResult struct {
	Q             float64 // the quantile compared, e.g. 0.95
	NGreen, NBlue int
	// Green and Blue are the sample quantiles (type 7, see Quantile), and
	// Diff is Green − Blue: the point estimate.
	Green, Blue, Diff float64
	// CI is the percentile bootstrap interval of Diff: the α/2 and 1−α/2
	// type-7 quantiles of the B resampled differences, each resample drawing
	// NGreen values from green and NBlue from blue with replacement,
	// independently.
	CI         Interval
	Resamples  int
	Confidence float64
}

// BootstrapQuantileDiff estimates the q-quantile of green minus that of
// blue, with a percentile bootstrap confidence interval. NaN and ±Inf
// values are ignored; an empty sample returns ErrEmptySample. q is clamped to [0, 1]
// (NaN reads as 0).
// The inputs are not modified.
func BootstrapQuantileDiff(green, blue []float64, q float64, opts BootstrapOptions) (BootstrapResult, error) {
	g, b := sortedCopy(green), sortedCopy(blue)
	if len(g) == 0 || len(b) == 0 {
		return BootstrapResult{}, ErrEmptySample
	}
	if math.IsNaN(q) {
		q = 0
	}
	q = min(max(q, 0), 1)
	B := opts.Resamples
	if B <= 0 {
		B = DefaultResamples
	}
	B = min(B, MaxResamples)
	conf := validConfidence(opts.Confidence)
	r := BootstrapResult{
		Q: q, NGreen: len(g), NBlue: len(b),
		Green: Quantile(g, q), Blue: Quantile(b, q),
		Resamples: B, Confidence: conf,
	}
	r.Diff = r.Green - r.Blue

	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	rg, rb := newResampler(len(g)), newResampler(len(b))
	diffs := make([]float64, B)
	for i := range diffs {
		diffs[i] = rg.quantile(rng, g, q) - rb.quantile(rng, b, q)
	}
	slices.Sort(diffs)
	alpha := 1 - conf
	r.CI = Interval{Lo: Quantile(diffs, alpha/2), Hi: Quantile(diffs, 1-alpha/2)}
	return r, nil
}

// resampler draws one bootstrap resample of a sorted sample and reads its
// type-7 quantile without sorting: it counts how often each index was drawn
// and walks the counts, which is O(n) per resample instead of O(n log n).
type resampler struct{ counts []int }

func newResampler(n int) *resampler { return &resampler{counts: make([]int, n)} }

func (r *resampler) quantile(rng *rand.Rand, sorted []float64, q float64) float64 {
	n := len(sorted)
	clear(r.counts)
	for range n {
		r.counts[rng.IntN(n)]++
	}
	h := float64(n-1) * q
	if !(h > 0) {
		h = 0
	}
	lo := int(h)
	frac := h - float64(lo)
	// Find the values at ranks lo and lo+1 (0-based) of the resample.
	var xlo float64
	seen := 0
	found := false
	for i, c := range r.counts {
		if c == 0 {
			continue
		}
		seen += c
		if !found && seen > lo {
			xlo, found = sorted[i], true
		}
		if found && seen > lo+1 {
			return lerp(xlo, sorted[i], frac)
		}
	}
	return xlo // rank lo is the last one: q = 1 or n = 1
}

// Margin is how much worse green may be than blue and still pass a
// non-inferiority check. The allowed difference is the larger of Abs and
// Rel × blue's estimate: an absolute floor keeps a relative margin from
// demanding sub-millisecond precision when blue is very fast, and the
// relative part scales with a slow baseline. Both zero means green must not
// be worse at all.
type Margin struct {
	Abs float64 // in the samples' unit, e.g. milliseconds
	Rel float64 // fraction of the baseline, e.g. 0.10 for 10 %
}

// Allowed returns the largest acceptable green − blue difference for a blue
// estimate of baseline. Negative margins count as zero.
func (m Margin) Allowed(baseline float64) float64 {
	return max(m.Abs, m.Rel*baseline, 0)
}

// NonInferior reports whether green is non-inferior to blue at the
// interval's confidence: the upper bound of the interval of green − blue is
// at most m.Allowed(Blue). With a two-sided 95 % interval this is a
// one-sided test at 2.5 %.
func (r BootstrapResult) NonInferior(m Margin) bool {
	return r.CI.Hi <= m.Allowed(r.Blue)
}
