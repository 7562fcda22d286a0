package stats

import (
	"errors"
	"math"
	"testing"
)

func TestTwoProportionsZ(t *testing.T) {
	// Worked exercise: x1 = 140 of n1 = 200, x2 = 255 of n2 = 340; pooled
	// p̄ = 0.7314815, SE = 0.03949401, z = −1.266015. Source:
	// homeworksource.com/p/1008622 ("Find the test statistic z ..."), the
	// pooled formula of Moore, McCabe & Craig, "Introduction to the Practice
	// of Statistics", §8.2. (That solution's p = 0.1030 is read from a t
	// table with 538 df; the z-test's normal tail is Φ(−1.266015) = 0.10275,
	// and a normal table gives Φ(−1.27) = 0.1020, Φ(−1.26) = 0.1038.)
	r, err := TwoProportions(140, 200, 255, 340, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.Z, -1.266015, 5e-6) {
		t.Errorf("z = %.6f, want -1.266015", r.Z)
	}
	if !(r.PLess > 0.1020 && r.PLess < 0.1038) || !near(r.PLess, 0.10275, 5e-5) {
		t.Errorf("PLess = %.7f, want 0.10275", r.PLess)
	}
	if !near(r.PTwoSided, 2*r.PLess, 1e-12) || !near(r.PGreater, 1-r.PLess, 1e-12) {
		t.Errorf("PTwoSided = %v, PGreater = %v", r.PTwoSided, r.PGreater)
	}
	if r.Degenerate {
		t.Error("not degenerate")
	}
}

func TestTwoProportionsChiSquareIdentity(t *testing.T) {
	// The pooled z² is Pearson's χ² of the 2×2 table (without Yates'
	// correction); compute χ² independently from observed and expected
	// counts.
	for _, c := range [][4]int64{{18, 100, 61, 148}, {3, 1000, 12, 1000}, {56, 70, 48, 80}} {
		r, err := TwoProportions(c[0], c[1], c[2], c[3], 0.95)
		if err != nil {
			t.Fatal(err)
		}
		obs := [2][2]float64{
			{float64(c[0]), float64(c[1] - c[0])},
			{float64(c[2]), float64(c[3] - c[2])},
		}
		N := float64(c[1] + c[3])
		var chi2 float64
		for i := range 2 {
			for j := range 2 {
				rowSum := obs[i][0] + obs[i][1]
				colSum := obs[0][j] + obs[1][j]
				e := rowSum * colSum / N
				chi2 += (obs[i][j] - e) * (obs[i][j] - e) / e
			}
		}
		if !near(r.Z*r.Z, chi2, 1e-9*chi2) {
			t.Errorf("%v: z² = %v, χ² = %v", c, r.Z*r.Z, chi2)
		}
	}
}

func TestTwoProportionsNewcombe(t *testing.T) {
	// Newcombe R.G. (1998), "Interval estimation for the difference between
	// independent proportions: comparison of eleven methods", Statistics in
	// Medicine 17:873–890, Table II, 95 % limits for method 1 (Wald) and
	// method 10 (hybrid score), examples (a), (d), (e), (f), (g) and (h).
	cases := []struct {
		name           string
		x1, n1, x2, n2 int64
		wald, score    Interval
	}{
		{"a 56/70-48/80", 56, 70, 48, 80, Interval{0.0575, 0.3425}, Interval{0.0524, 0.3339}},
		{"d 5/56-0/29", 5, 56, 0, 29, Interval{0.0146, 0.1640}, Interval{-0.0381, 0.1926}},
		{"e 0/10-0/20", 0, 10, 0, 20, Interval{0, 0}, Interval{-0.1611, 0.2775}},
		{"f 0/10-0/10", 0, 10, 0, 10, Interval{0, 0}, Interval{-0.2775, 0.2775}},
		{"g 10/10-0/20", 10, 10, 0, 20, Interval{1, 1}, Interval{0.6791, 1.0000}},
		{"h 10/10-0/10", 10, 10, 0, 10, Interval{1, 1}, Interval{0.6075, 1.0000}},
	}
	for _, c := range cases {
		r, err := TwoProportions(c.x1, c.n1, c.x2, c.n2, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if !near(r.CI.Lo, c.score.Lo, 6e-5) || !near(r.CI.Hi, c.score.Hi, 6e-5) {
			t.Errorf("%s: Newcombe CI = [%.4f, %.4f], want [%.4f, %.4f]", c.name, r.CI.Lo, r.CI.Hi, c.score.Lo, c.score.Hi)
		}
		if !near(r.WaldCI.Lo, c.wald.Lo, 6e-5) || !near(r.WaldCI.Hi, c.wald.Hi, 6e-5) {
			t.Errorf("%s: Wald CI = [%.4f, %.4f], want [%.4f, %.4f]", c.name, r.WaldCI.Lo, r.WaldCI.Hi, c.wald.Lo, c.wald.Hi)
		}
	}
}

func TestTwoProportionsDegenerate(t *testing.T) {
	for _, c := range [][4]int64{{0, 0, 0, 0}, {0, 100, 0, 100}, {5, 5, 7, 7}, {0, 0, 3, 10}, {1, 10, 0, 0}} {
		r, err := TwoProportions(c[0], c[1], c[2], c[3], 0)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Degenerate || r.Z != 0 || r.PTwoSided != 1 || r.PGreater != 0.5 {
			t.Errorf("%v: %+v", c, r)
		}
		for _, v := range []float64{r.CI.Lo, r.CI.Hi, r.WaldCI.Lo, r.WaldCI.Hi, r.PGreen, r.PBlue, r.Diff} {
			if math.IsNaN(v) || v < -1 || v > 1 {
				t.Errorf("%v: bad value %v in %+v", c, v, r)
			}
		}
		if !r.CI.Contains(r.Diff) {
			t.Errorf("%v: CI %v misses Diff %v", c, r.CI, r.Diff)
		}
	}
	// An empty green sample can never be shown non-inferior.
	if r, _ := TwoProportions(0, 0, 0, 1000, 0.95); r.NonInferior(0.005) {
		t.Error("empty green passed")
	}
	for _, c := range [][4]int64{{-1, 10, 0, 10}, {11, 10, 0, 10}, {0, 10, 3, 2}, {0, -1, 0, 1}} {
		if _, err := TwoProportions(c[0], c[1], c[2], c[3], 0.95); !errors.Is(err, ErrInvalidCounts) {
			t.Errorf("%v: err = %v", c, err)
		}
	}
}

func TestTwoProportionsProperties(t *testing.T) {
	// Swapping green and blue negates z and mirrors the interval.
	a, _ := TwoProportions(7, 400, 2, 350, 0.9)
	b, _ := TwoProportions(2, 350, 7, 400, 0.9)
	if !near(a.Z, -b.Z, 1e-12) || !near(a.CI.Lo, -b.CI.Hi, 1e-12) || !near(a.PGreater, b.PLess, 1e-12) || !near(a.PTwoSided, b.PTwoSided, 1e-12) {
		t.Errorf("asymmetric: %+v vs %+v", a, b)
	}
	// Equal rates: p ≈ 1 and the interval covers 0.
	e, _ := TwoProportions(10, 1000, 10, 1000, 0.95)
	if e.PTwoSided != 1 || !e.CI.Contains(0) {
		t.Errorf("equal rates: %+v", e)
	}
	// Non-inferiority at half a point: 1.0 % vs 1.0 % with 20k each passes,
	// 3 % vs 1 % fails.
	ok, _ := TwoProportions(200, 20000, 200, 20000, 0.95)
	bad, _ := TwoProportions(600, 20000, 200, 20000, 0.95)
	if !ok.NonInferior(0.005) || bad.NonInferior(0.005) {
		t.Errorf("non-inferiority: ok %v, bad %v", ok.CI, bad.CI)
	}
	// A higher confidence gives a wider interval.
	c99, _ := TwoProportions(7, 400, 2, 350, 0.99)
	c90, _ := TwoProportions(7, 400, 2, 350, 0.90)
	if !(c99.CI.Lo < c90.CI.Lo && c99.CI.Hi > c90.CI.Hi) {
		t.Errorf("99 %% %v not wider than 90 %% %v", c99.CI, c90.CI)
	}
}
