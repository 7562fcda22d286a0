package stats

import "math"

// NormalCDF returns P(Z ≤ z) for a standard normal Z. It is computed with
// math.Erfc so that tail probabilities far from zero keep their relative
// precision (1 − Φ(8) is about 6e-16, not 0).
func NormalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}

// NormalSF returns P(Z > z), the upper tail, without the cancellation of
// 1 − NormalCDF(z).
func NormalSF(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// NormalQuantile returns z with NormalCDF(z) = p, for p in (0, 1); it returns
// −Inf for p ≤ 0, +Inf for p ≥ 1 and NaN only for a NaN p. It uses
// math.Erfinv for a first estimate and then polishes it with Newton steps
// on log NormalCDF (built on math.Erfc), because math.Erfinv(2p−1) loses
// the digits of a small p: without the polish NormalQuantile(Φ(−8)) is
// −8.0023; with it, −8 to 1e-9. Below p ≈ 1e-17, where 2p−1 rounds to −1,
// the estimate starts from the tail's asymptote instead. Steps on the
// logarithm stay well-behaved far in the tail, where Φ(z) ≈ φ(z)/|z|.
func NormalQuantile(p float64) float64 {
	switch {
	case math.IsNaN(p):
		return math.NaN()
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	}
	if p > 0.5 {
		return -NormalQuantile(1 - p)
	}
	z := math.Sqrt2 * math.Erfinv(2*p-1)
	if math.IsInf(z, 0) {
		z = -math.Sqrt(-2 * math.Log(p))
	}
	logP := math.Log(p)
	for range 50 {
		cdf := NormalCDF(z)
		dens := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
		if cdf == 0 || dens == 0 {
			break
		}
		step := (math.Log(cdf) - logP) * cdf / dens
		z -= step
		if math.Abs(step) <= 1e-13*max(1, math.Abs(z)) {
			break
		}
	}
	return z
}

// zCritical returns the two-sided critical value for confidence level conf
// (1.959964 for 0.95). A conf outside (0, 1) is replaced by 0.95 so that a
// zero-valued option means the conventional level. It is the quantile of
// the lower tail, (1−conf)/2, which is exact for every conf: 1 − (1−conf)/2
// rounds to 1 for a conf within 2⁻⁵³ of 1.
func zCritical(conf float64) float64 {
	return -NormalQuantile((1 - validConfidence(conf)) / 2)
}

// validConfidence returns conf when it is in (0, 1) and 0.95 otherwise.
func validConfidence(conf float64) float64 {
	if !(conf > 0 && conf < 1) { // also catches NaN
		return 0.95
	}
	return conf
}

// pValues turns a z statistic into the three p-values. A non-finite z is
// treated as 0 (no evidence) so callers never see NaN.
func pValues(z float64) (two, greater, less float64) {
	if math.IsNaN(z) {
		return 1, 0.5, 0.5
	}
	greater = NormalSF(z)
	less = NormalCDF(z)
	two = min(1, 2*min(greater, less))
	return two, greater, less
}
