package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func latencies(rng *rand.Rand, n int, base, spread float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = base + rng.ExpFloat64()*spread
	}
	return s
}

func TestBootstrapDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	g, b := latencies(rng, 800, 10, 20), latencies(rng, 900, 10, 20)
	opts := BootstrapOptions{Resamples: 500, Seed: 42}
	r1, err := BootstrapQuantileDiff(g, b, 0.95, opts)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := BootstrapQuantileDiff(g, b, 0.95, opts)
	if r1 != r2 {
		t.Errorf("same seed, different result: %+v vs %+v", r1, r2)
	}
	opts.Seed = 43
	r3, _ := BootstrapQuantileDiff(g, b, 0.95, opts)
	if r3.CI == r1.CI {
		t.Error("different seed gave an identical interval")
	}
	if r1.Resamples != 500 || r1.Confidence != 0.95 || r1.NGreen != 800 || r1.NBlue != 900 {
		t.Errorf("metadata %+v", r1)
	}
	if !(r1.CI.Lo <= r1.Diff && r1.Diff <= r1.CI.Hi) {
		t.Errorf("CI %v misses the estimate %v", r1.CI, r1.Diff)
	}
}

func TestBootstrapResamplerMatchesSort(t *testing.T) {
	// The counting resampler must read the same type-7 quantile as sorting
	// the resample would.
	sorted := []float64{1, 2, 4, 8, 16, 32, 64}
	for _, q := range []float64{0, 0.1, 0.5, 0.95, 0.99, 1} {
		rs := newResampler(len(sorted))
		rng := rand.New(rand.NewPCG(3, 4))
		for range 50 {
			got := rs.quantile(rng, sorted, q)
			var res []float64
			for i, c := range rs.counts {
				for range c {
					res = append(res, sorted[i])
				}
			}
			if want := Quantile(res, q); got != want {
				t.Fatalf("q=%v: resampler %v, sorted %v (%v)", q, got, want, res)
			}
		}
	}
}

func TestBootstrapNonInferiority(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	blue := latencies(rng, 2000, 5, 10)
	same := latencies(rng, 2000, 5, 10)
	slower := latencies(rng, 2000, 805, 10) // green +800 ms
	opts := BootstrapOptions{Seed: 1}

	r, err := BootstrapQuantileDiff(same, blue, 0.95, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !r.NonInferior(Margin{Abs: 50}) {
		t.Errorf("equal distributions failed a 50 ms margin: %+v", r)
	}
	if !r.CI.Contains(0) {
		t.Errorf("equal distributions: CI %v excludes 0", r.CI)
	}
	r, _ = BootstrapQuantileDiff(slower, blue, 0.95, opts)
	if r.NonInferior(Margin{Abs: 50, Rel: 0.2}) {
		t.Errorf("+800 ms passed: %+v", r)
	}
	if !near(r.Diff, 800, 20) {
		t.Errorf("P95 diff %v, want ≈800", r.Diff)
	}
	// Margin arithmetic: the larger of the absolute and relative parts.
	if m := (Margin{Abs: 50, Rel: 0.1}); m.Allowed(200) != 50 || m.Allowed(1000) != 100 {
		t.Errorf("Allowed: %v %v", m.Allowed(200), m.Allowed(1000))
	}
	if (Margin{Abs: -5}).Allowed(10) != 0 {
		t.Error("negative margin")
	}
}

func TestBootstrapEdges(t *testing.T) {
	if _, err := BootstrapQuantileDiff(nil, []float64{1}, 0.95, BootstrapOptions{}); !errors.Is(err, ErrEmptySample) {
		t.Errorf("err = %v", err)
	}
	if _, err := BootstrapQuantileDiff([]float64{math.NaN()}, []float64{1}, 0.95, BootstrapOptions{}); !errors.Is(err, ErrEmptySample) {
		t.Errorf("all-NaN err = %v", err)
	}
	r, err := BootstrapQuantileDiff([]float64{5}, []float64{3}, math.NaN(), BootstrapOptions{Resamples: -1, Confidence: 7})
	if err != nil || r.Diff != 2 || r.CI != (Interval{2, 2}) || r.Resamples != DefaultResamples || r.Confidence != 0.95 {
		t.Errorf("single values: %+v %v", r, err)
	}
	r, _ = BootstrapQuantileDiff([]float64{1, 2}, []float64{1, 2}, 0.5, BootstrapOptions{Resamples: 1 << 30})
	if r.Resamples != MaxResamples {
		t.Errorf("resamples not clamped: %d", r.Resamples)
	}
}

// A relative margin is a fraction of blue's quantile (the baseline), never of
// green's: a green that is slower by 40 % of blue's P95 must fail a 30 %
// margin, although 30 % of its own, larger P95 would cover the gap.
func TestBootstrapRelativeMarginIsOfBlue(t *testing.T) {
	blue, green := make([]float64, 200), make([]float64, 200)
	for i := range blue {
		blue[i], green[i] = 100, 140
	}
	r, err := BootstrapQuantileDiff(green, blue, 0.95, BootstrapOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Diff != 40 || r.CI != (Interval{40, 40}) {
		t.Fatalf("constant samples: diff %v CI %v, want 40 [40, 40]", r.Diff, r.CI)
	}
	if r.NonInferior(Margin{Rel: 0.3}) {
		t.Errorf("green +40 %% of blue passed a 30 %% margin (allowed is 30 %% of blue = 30): %+v", r)
	}
	if !r.NonInferior(Margin{Rel: 0.4}) {
		t.Errorf("green +40 %% of blue failed a 40 %% margin: %+v", r)
	}
}

// The interval is the central Confidence share of the bootstrap
// distribution: alpha/2 cut off on each side, not alpha. With green = {0}
// and blue = {0, 1} at q = 0 (the minimum), a resample of blue is {1, 1}
// with probability 1/4, so the difference is −1 a quarter of the time and 0
// otherwise. A 60 % interval cuts 20 % per side and so reaches −1; a 40 %
// interval cuts 30 % and does not.
func TestBootstrapIntervalCutsHalfAlphaPerSide(t *testing.T) {
	green, blue := []float64{0}, []float64{0, 1}
	for conf, want := range map[float64]Interval{0.6: {-1, 0}, 0.4: {0, 0}} {
		r, err := BootstrapQuantileDiff(green, blue, 0, BootstrapOptions{Resamples: 4000, Confidence: conf, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		if r.CI != want {
			t.Errorf("confidence %v: CI %v, want %v", conf, r.CI, want)
		}
	}
}

// ±Inf samples are ignored like NaN (the package documentation promises
// both): one infinite latency must not become the P99 or the maximum.
func TestQuantilesIgnoreInfinities(t *testing.T) {
	got := Quantiles([]float64{math.Inf(1), 1, 2, 3, math.Inf(-1)}, 0, 1)
	if got[0] != 1 || got[1] != 3 {
		t.Errorf("Quantiles with ±Inf at 0 and 1 = %v, want [1 3]", got)
	}
	r, err := BootstrapQuantileDiff([]float64{5, math.Inf(1)}, []float64{3}, 1, BootstrapOptions{Seed: 1})
	if err != nil || r.Green != 5 || r.Diff != 2 {
		t.Errorf("bootstrap with +Inf in green: %+v, %v; want green 5, diff 2", r, err)
	}
}
