package stats

import (
	"math"
	"testing"
)

// near reports whether got is within tol of want (absolute).
func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestNormal(t *testing.T) {
	// Standard normal table values (e.g. NIST/SEMATECH e-Handbook of
	// Statistical Methods, 1.3.6.7.1 "Cumulative Distribution Function of
	// the Standard Normal Distribution").
	cases := []struct{ z, cdf float64 }{
		{0, 0.5},
		{1, 0.84134},
		{1.96, 0.97500},
		{-3, 0.00135},
		{2.58, 0.99506},
	}
	for _, c := range cases {
		if got := NormalCDF(c.z); !near(got, c.cdf, 5e-6) {
			t.Errorf("NormalCDF(%v) = %.6f, want %.5f", c.z, got, c.cdf)
		}
		if got := NormalSF(c.z); !near(got, 1-c.cdf, 5e-6) {
			t.Errorf("NormalSF(%v) = %.6f, want %.5f", c.z, got, 1-c.cdf)
		}
	}
	// Critical values: 1.959964 (95 %), 2.575829 (99 %), 1.644854 (90 %).
	for p, z := range map[float64]float64{0.975: 1.959964, 0.995: 2.575829, 0.95: 1.644854, 0.5: 0} {
		if got := NormalQuantile(p); !near(got, z, 1e-6) {
			t.Errorf("NormalQuantile(%v) = %.7f, want %.6f", p, got, z)
		}
	}
	if !math.IsInf(NormalQuantile(0), -1) || !math.IsInf(NormalQuantile(1), 1) {
		t.Error("NormalQuantile at 0 and 1 should be ∓Inf")
	}
	// Round trip deep in the tail keeps relative precision.
	for _, z := range []float64{-8, -5, -1.5, 0.3, 4, 7} {
		if got := NormalQuantile(NormalCDF(z)); !near(got, z, 1e-6*math.Max(1, math.Abs(z))) && z < 5 {
			// Above ~5 the upper tail is lost in 1 − p; only the lower tail
			// is expected to round-trip.
			t.Errorf("round trip %v → %v", z, got)
		}
	}
	if got := zCritical(0); !near(got, 1.959964, 1e-6) {
		t.Errorf("zCritical(0) = %v, want the 95 %% default", got)
	}
}

func TestQuantileType7(t *testing.T) {
	// R: quantile(1:10, c(0, .25, .5, .95, 1)) gives 1, 3.25, 5.5, 9.55, 10
	// (type 7 is R's default, Hyndman & Fan 1996).
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for q, want := range map[float64]float64{0: 1, 0.25: 3.25, 0.5: 5.5, 0.95: 9.55, 1: 10, -1: 1, 2: 10} {
		if got := Quantile(s, q); !near(got, want, 1e-12) {
			t.Errorf("Quantile(1..10, %v) = %v, want %v", q, got, want)
		}
	}
	// NumPy docs: np.percentile([[10, 7, 4], [3, 2, 1]], 50) = 3.5.
	if got := Quantiles([]float64{10, 7, 4, 3, 2, 1}, 0.5)[0]; got != 3.5 {
		t.Errorf("median = %v, want 3.5", got)
	}
	if got := Quantile(nil, 0.5); got != 0 {
		t.Errorf("empty = %v", got)
	}
	if got := Quantiles([]float64{math.NaN(), 3, math.NaN()}, 0.5, 0.99); got[0] != 3 || got[1] != 3 {
		t.Errorf("NaNs not ignored: %v", got)
	}
}
