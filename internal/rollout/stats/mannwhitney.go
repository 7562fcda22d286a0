package stats

import (
	"cmp"
	"math"
	"slices"
)

// exactMax bounds the sample sizes for which MannWhitney computes the exact
// null distribution (both samples at most this size, and no ties). The
// counting takes O(n1·n2·n1·n2/2) additions: about 3 ms at 50×50.
const exactMax = 50

// MannWhitneyTest is the result of comparing two latency samples.
type MannWhitneyTest struct {
	NGreen, NBlue int

	// U is the Mann-Whitney statistic of green: the number of (green, blue)
	// pairs with green > blue, plus half the number of tied pairs. It is in
	// [0, NGreen·NBlue]; blue's statistic is NGreen·NBlue − U.
	U float64

	// Z is the normal approximation (U − n1n2/2)/σ with σ corrected for
	// ties and with a continuity correction of 0.5 toward zero. It is 0 when
	// either sample is empty or every value is tied (σ = 0).
	Z float64
	// PTwoSided tests H1: the distributions differ in location. PGreater
	// tests H1: green tends to be larger (slower); PLess: green tends to be
	// smaller. When Exact is true they come from the exact null distribution
	// of U; otherwise from the normal approximation with the continuity
	// correction applied in the direction of each alternative (as R's
	// wilcox.test does, so PGreater + PLess may exceed 1 slightly).
	PTwoSided, PGreater, PLess float64
	// Exact tells whether the p-values are exact: both samples have at most
	// 50 values and there are no ties.
	Exact bool

	// CommonLanguage is U/(n1·n2): the probability that a random green value
	// exceeds a random blue one (ties counting half). 0.5 means no effect.
	CommonLanguage float64
	// RankBiserial is 2·CommonLanguage − 1, in [−1, 1]; positive means green
	// is slower.
	RankBiserial float64
}

// MannWhitney runs the Mann-Whitney U (Wilcoxon rank-sum) test on green and
// blue. NaN and ±Inf values are ignored (a latency is finite). Empty
// samples are allowed: the answer is "no evidence" (p = 1), never NaN. The
// inputs are not modified.
func MannWhitney(green, blue []float64) MannWhitneyTest {
	type obs struct {
		v     float64
		green bool
	}
	all := make([]obs, 0, len(green)+len(blue))
	for _, v := range green {
		if finite(v) {
			all = append(all, obs{v, true})
		}
	}
	n1 := len(all)
	for _, v := range blue {
		if finite(v) {
			all = append(all, obs{v, false})
		}
	}
	n2 := len(all) - n1
	t := MannWhitneyTest{NGreen: n1, NBlue: n2, PTwoSided: 1, PGreater: 0.5, PLess: 0.5, CommonLanguage: 0.5}
	if n1 == 0 || n2 == 0 {
		return t
	}
	slices.SortFunc(all, func(a, b obs) int { return cmp.Compare(a.v, b.v) })

	// Mid-ranks, the green rank sum and the tie term Σ(t³ − t).
	var rankSum, tieTerm float64
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for k := i; k < j; k++ {
			if all[k].green {
				rankSum += mid
			}
		}
		if tn := float64(j - i); tn > 1 {
			tieTerm += tn*tn*tn - tn
		}
		i = j
	}
	f1, f2 := float64(n1), float64(n2)
	N := f1 + f2
	t.U = rankSum - f1*(f1+1)/2
	t.CommonLanguage = t.U / (f1 * f2)
	t.RankBiserial = 2*t.CommonLanguage - 1

	mean := f1 * f2 / 2
	variance := f1 * f2 / 12 * ((N + 1) - tieTerm/(N*(N-1)))
	if variance <= 0 { // every value tied: nothing to test
		return t
	}
	sigma := math.Sqrt(variance)
	d := t.U - mean
	switch {
	case d > 0.5:
		t.Z = (d - 0.5) / sigma
	case d < -0.5:
		t.Z = (d + 0.5) / sigma
	}
	if tieTerm == 0 && n1 <= exactMax && n2 <= exactMax {
		t.Exact = true
		t.PGreater, t.PLess = exactTails(n1, n2, t.U)
		t.PTwoSided = min(1, 2*min(t.PGreater, t.PLess))
		return t
	}
	t.PGreater = NormalSF((d - 0.5) / sigma)
	t.PLess = NormalCDF((d + 0.5) / sigma)
	t.PTwoSided = min(1, 2*NormalSF(math.Abs(t.Z)))
	return t
}

// exactTails returns P(U ≥ u) and P(U ≤ u) under H0 for samples of sizes
// m and n without ties. The number of arrangements with statistic k obeys
// c(m, n, k) = c(m−1, n, k−n) + c(m, n−1, k) (is the largest value green or
// blue?); the counts are kept in float64, exact up to 2^53 and then good to
// 16 digits, which is plenty for a probability.
func exactTails(m, n int, u float64) (greater, less float64) {
	maxU := m * n
	// prev[j] is the distribution for (i−1, j), cur[j] for (i, j).
	prev := make([][]float64, n+1)
	cur := make([][]float64, n+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		cur[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // zero green values: one arrangement, U = 0
	}
	for i := 1; i <= m; i++ {
		clear(cur[0])
		cur[0][0] = 1 // zero blue values: U = 0
		for j := 1; j <= n; j++ {
			c, up, left := cur[j], prev[j], cur[j-1]
			for k := 0; k <= i*j; k++ {
				v := left[k]
				if k >= j {
					v += up[k-j]
				}
				c[k] = v
			}
			clear(c[i*j+1:])
		}
		prev, cur = cur, prev
	}
	dist := prev[n]
	var total, ge, le float64
	for k, c := range dist {
		total += c
		if float64(k) >= u {
			ge += c
		}
		if float64(k) <= u {
			le += c
		}
	}
	return ge / total, le / total
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
