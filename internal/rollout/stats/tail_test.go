package stats

import (
	"math"
	"testing"
)

// NormalQuantile's contract is NormalCDF(NormalQuantile(p)) = p on (0, 1),
// also below p ≈ 5.6e-17, where 2p−1 rounds to −1 and Erfinv gives −Inf
// (three Newton steps on the CDF from the asymptote once stopped at −6.75
// for 1e-17). Reference values from Python:
// statistics.NormalDist().inv_cdf(p).
//
// zCritical must not round 1 − (1−conf)/2 to 1 for conf =
// 0.9999999999999999, which TwoProportions accepts as a valid level: the
// Newcombe interval would be NaN, against the package promise "never
// return NaN for finite input". Expected z: −inv_cdf(2**-54) =
// 8.292361075813595.
func TestNormalQuantileFarTail(t *testing.T) {
	for _, c := range []struct{ p, want float64 }{
		{1e-17, -8.4937932241096},
		{1e-20, -9.262340089798405},
		{1e-50, -14.933337534788489},
		{1e-300, -37.0470962993612},
	} {
		if got := NormalQuantile(c.p); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("NormalQuantile(%g) = %.10g, want %.10g", c.p, got, c.want)
		}
	}
	conf := math.Nextafter(1, 0)
	if z := zCritical(conf); math.Abs(z-8.292361075813595) > 1e-6 {
		t.Errorf("zCritical(%v) = %v, want 8.292361075813595", conf, z)
	}
	r, err := TwoProportions(1, 100, 1, 100, conf)
	if err != nil || math.IsNaN(r.CI.Lo) || math.IsNaN(r.CI.Hi) {
		t.Errorf("TwoProportions(1/100, 1/100, conf %v): CI %v, err %v", conf, r.CI, err)
	}
}

// NormalQuantile inverts NormalCDF to relative precision, and is monotone,
// from the far tail to the middle.
func TestNormalQuantileInvertsTheCDF(t *testing.T) {
	prev := math.Inf(-1)
	for e := -300.0; e <= math.Log10(0.5); e += 0.25 {
		p := math.Pow(10, e)
		z := NormalQuantile(p)
		if got := NormalCDF(z); math.Abs(math.Log(got)-math.Log(p)) > 1e-9 {
			t.Errorf("NormalCDF(NormalQuantile(%g)) = %g", p, got)
		}
		if z <= prev {
			t.Errorf("NormalQuantile(%g) = %v, not above %v for the smaller p before it", p, z, prev)
		}
		prev = z
	}
}
