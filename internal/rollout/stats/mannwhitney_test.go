package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMannWhitneyRExample(t *testing.T) {
	// R documentation of wilcox.test (stats package), two-sample example
	// from Hollander & Wolfe (1973), p. 69f, permeability constants of the
	// human chorioamnion: wilcox.test(x, y, alternative = "g") gives
	// W = 35, p-value = 0.1272 (exact; no ties, small samples).
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	r := MannWhitney(x, y)
	if r.U != 35 || !r.Exact {
		t.Fatalf("U = %v exact %v, want 35 exact", r.U, r.Exact)
	}
	if !near(r.PGreater, 0.1272, 5e-5) {
		t.Errorf("PGreater = %.5f, want 0.1272", r.PGreater)
	}
	if !near(r.PTwoSided, 2*0.1272, 1e-4) {
		t.Errorf("PTwoSided = %.5f, want 0.2544", r.PTwoSided)
	}
	if !near(r.CommonLanguage, 35.0/50, 1e-12) || !near(r.RankBiserial, 0.4, 1e-12) {
		t.Errorf("effect sizes %v %v", r.CommonLanguage, r.RankBiserial)
	}
	// The same data under the normal approximation with continuity
	// correction, as R's wilcox.test(x, y, "g", exact = FALSE):
	// z = (35 − 25 − 0.5)/sqrt(10·5·16/12) = 1.16351, p = 0.1223.
	if !near(r.Z, 1.16351, 5e-6) {
		t.Errorf("Z = %.6f, want 1.16351", r.Z)
	}
}

func TestMannWhitneyTortoiseHare(t *testing.T) {
	// Wikipedia, "Mann–Whitney U test", illustration: finishing order
	// T H H H H H T T T T T H gives U_T = 11 and U_H = 25. Lower time =
	// finished first, so finishing position is the value.
	order := "THHHHHTTTTTH"
	var tort, hare []float64
	for i, c := range order {
		if c == 'T' {
			tort = append(tort, float64(i))
		} else {
			hare = append(hare, float64(i))
		}
	}
	// U of a sample counts pairs where it is larger, i.e. finished later;
	// Wikipedia counts pairs where it finished first, which is the other's U.
	if r := MannWhitney(hare, tort); r.U != 11 {
		t.Errorf("U(hare later) = %v, want U_T = 11", r.U)
	}
	if r := MannWhitney(tort, hare); r.U != 25 {
		t.Errorf("U(tortoise later) = %v, want U_H = 25", r.U)
	}
}

func TestMannWhitneyCriticalValues(t *testing.T) {
	// Standard table of critical values of U for a two-tailed test at
	// α = 0.05 (e.g. Siegel & Castellan, "Nonparametric Statistics for the
	// Behavioral Sciences", Table J): reject when U ≤ U_crit.
	for _, c := range []struct{ m, n, crit int }{{6, 6, 5}, {10, 10, 23}, {5, 10, 8}, {20, 20, 127}, {8, 12, 22}} {
		_, atCrit := exactTails(c.m, c.n, float64(c.crit))
		_, above := exactTails(c.m, c.n, float64(c.crit+1))
		if !(atCrit <= 0.025 && above > 0.025) {
			t.Errorf("m=%d n=%d: P(U≤%d) = %.4f, P(U≤%d) = %.4f", c.m, c.n, c.crit, atCrit, c.crit+1, above)
		}
	}
}

func TestMannWhitneyTiesNormal(t *testing.T) {
	// Latencies rounded to whole ms: many ties, so the normal approximation
	// with the tie-corrected variance applies. Checked against the formula
	// evaluated by hand: green {1,2,2,3,3,3} (n=6), blue {2,3,4,4,5,5} (n=6).
	// Mid-ranks: 1→1; 2 (×3)→3; 3 (×4)→6.5; 4 (×2)→9.5; 5 (×2)→11.5.
	// R_green = 1 + 3 + 3 + 6.5·3 = 26.5, U = 26.5 − 21 = 5.5.
	// Ties Σ(t³−t) = 24 + 60 + 6 + 6 = 96; σ² = 36/12·(13 − 96/132) = 36.8182.
	// z = (5.5 − 18 + 0.5)/6.06779 = −1.97765; p two-sided = 0.04797.
	g := []float64{1, 2, 2, 3, 3, 3}
	b := []float64{2, 3, 4, 4, 5, 5}
	r := MannWhitney(g, b)
	if r.Exact || r.U != 5.5 {
		t.Fatalf("U = %v exact %v", r.U, r.Exact)
	}
	if !near(r.Z, -1.97765, 5e-5) || !near(r.PTwoSided, 0.04797, 5e-5) {
		t.Errorf("Z = %.5f p = %.5f, want -1.97765, 0.04797", r.Z, r.PTwoSided)
	}
	if !(r.PLess < 0.03 && r.PGreater > 0.97) {
		t.Errorf("one-sided %v %v", r.PLess, r.PGreater)
	}
}

func TestMannWhitneyProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sample := func(n int, shift float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Round(rng.ExpFloat64()*20 + shift) // ms, with ties
		}
		return s
	}
	for _, n := range []int{3, 30, 80, 500} {
		a, b := sample(n, 10), sample(n+7, 10)
		ab, ba := MannWhitney(a, b), MannWhitney(b, a)
		if !near(ab.U+ba.U, float64(len(a)*len(b)), 1e-9) || !near(ab.PTwoSided, ba.PTwoSided, 1e-12) || !near(ab.PGreater, ba.PLess, 1e-12) {
			t.Errorf("n=%d asymmetric: %+v / %+v", n, ab, ba)
		}
		same := MannWhitney(a, a)
		if same.PTwoSided < 0.99 || same.U != float64(n*n)/2 {
			t.Errorf("n=%d identical samples: %+v", n, same)
		}
	}
	// A clear shift is detected in the right direction.
	slow, fast := sample(400, 40), sample(400, 10)
	if r := MannWhitney(slow, fast); r.PGreater > 1e-6 || r.RankBiserial <= 0 {
		t.Errorf("shift missed: %+v", r)
	}
	// Degenerate inputs.
	for _, c := range [][2][]float64{{nil, nil}, {{1}, nil}, {{2, 2, 2}, {2, 2}}, {{math.NaN()}, {1, 2}}} {
		r := MannWhitney(c[0], c[1])
		if r.PTwoSided != 1 || r.Z != 0 || math.IsNaN(r.CommonLanguage) {
			t.Errorf("%v: %+v", c, r)
		}
	}
}
