package stats

import "slices"

// Quantile returns the q-quantile of sorted (ascending) by Hyndman & Fan's
// type 7, the default of R and NumPy: with h = (n−1)·q, linear interpolation
// between the order statistics x[⌊h⌋] and x[⌊h⌋+1] (0-based). q is clamped
// to [0, 1]; an empty sample gives 0. Type 7 is continuous in q and exact for
// q = 0 (min) and q = 1 (max); for the sample sizes the gates use (hundreds
// to thousands) it differs from nearest-rank by less than one gap between
// neighbouring samples.
//
// The caller guarantees sorted is ascending and finite (Quantiles sorts and
// filters for you).
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if !(q > 0) { // also NaN
		return sorted[0]
	}
	if q >= 1 {
		return sorted[n-1]
	}
	h := float64(n-1) * q
	i := int(h)
	if i >= n-1 {
		return sorted[n-1]
	}
	return lerp(sorted[i], sorted[i+1], h-float64(i))
}

// Quantiles returns the type-7 quantiles (see Quantile) of samples at each
// q, without modifying samples; NaN and ±Inf values are ignored.
func Quantiles(samples []float64, qs ...float64) []float64 {
	s := sortedCopy(samples)
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = Quantile(s, q)
	}
	return out
}

// lerp interpolates between a and b; written so that it neither overflows
// for values near ±MaxFloat64 nor turns 0·Inf into NaN at frac = 0.
func lerp(a, b, frac float64) float64 {
	if frac == 0 || a == b {
		return a
	}
	return (1-frac)*a + frac*b
}

// sortedCopy returns the finite values of v in ascending order.
func sortedCopy(v []float64) []float64 {
	s := make([]float64, 0, len(v))
	for _, x := range v {
		if finite(x) {
			s = append(s, x)
		}
	}
	slices.Sort(s)
	return s
}
