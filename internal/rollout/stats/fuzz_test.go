package stats

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzStats feeds arbitrary samples and counts to every function: none may
// panic, return NaN, or a p-value outside [0, 1]. The package has no parser;
// the fuzzed input is the samples themselves (raw float64 bits, so NaN, ±Inf,
// subnormals and ±MaxFloat64 all occur).
func FuzzStats(f *testing.F) {
	floats := func(v ...float64) []byte {
		b := make([]byte, 0, 8*len(v))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	f.Add(floats(0.80, 0.83, 1.89, 1.04, 1.45, 1.15, 0.88, 0.90), uint8(5), int64(3), int64(100), int64(1), int64(90), 0.95)
	f.Add(floats(1, 1, 1, 1), uint8(2), int64(0), int64(0), int64(0), int64(0), 0.0)
	f.Add(floats(math.Inf(1), math.NaN(), -math.MaxFloat64, math.MaxFloat64, 5e-324), uint8(2), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), 1.0)
	f.Fuzz(func(t *testing.T, data []byte, split uint8, x1, n1, x2, n2 int64, conf float64) {
		var v []float64
		for len(data) >= 8 && len(v) < 300 {
			v = append(v, math.Float64frombits(binary.LittleEndian.Uint64(data)))
			data = data[8:]
		}
		k := min(int(split), len(v))
		green, blue := v[:k], v[k:]

		checkP := func(what string, ps ...float64) {
			for _, p := range ps {
				if !(p >= 0 && p <= 1) {
					t.Fatalf("%s: p-value %v out of [0, 1]", what, p)
				}
			}
		}
		mw := MannWhitney(green, blue)
		checkP("MannWhitney", mw.PTwoSided, mw.PGreater, mw.PLess, mw.CommonLanguage)
		if math.IsNaN(mw.Z) || math.IsNaN(mw.U) || math.IsNaN(mw.RankBiserial) {
			t.Fatalf("MannWhitney NaN: %+v", mw)
		}

		if pt, err := TwoProportions(x1, n1, x2, n2, conf); err == nil {
			checkP("TwoProportions", pt.PTwoSided, pt.PGreater, pt.PLess, pt.PGreen, pt.PBlue)
			for _, x := range []float64{pt.Z, pt.Diff, pt.CI.Lo, pt.CI.Hi, pt.WaldCI.Lo, pt.WaldCI.Hi} {
				if math.IsNaN(x) {
					t.Fatalf("TwoProportions NaN: %+v", pt)
				}
			}
			if pt.CI.Lo > pt.CI.Hi || pt.CI.Lo < -1 || pt.CI.Hi > 1 {
				t.Fatalf("TwoProportions CI %v", pt.CI)
			}
		}

		if br, err := BootstrapQuantileDiff(green, blue, conf, BootstrapOptions{Resamples: 50, Seed: uint64(split)}); err == nil {
			for _, x := range []float64{br.Green, br.Blue, br.Diff, br.CI.Lo, br.CI.Hi} {
				if math.IsNaN(x) {
					t.Fatalf("Bootstrap NaN: %+v", br)
				}
			}
			if br.CI.Lo > br.CI.Hi {
				t.Fatalf("Bootstrap CI %v", br.CI)
			}
		}
		for _, q := range Quantiles(v, 0.5, 0.95, 0.99, conf) {
			if math.IsNaN(q) {
				t.Fatalf("Quantile NaN for %v", v)
			}
		}
		checkP("NormalCDF", NormalCDF(conf), NormalSF(conf))
		if z := NormalQuantile(conf); math.IsNaN(z) != math.IsNaN(conf) {
			t.Fatalf("NormalQuantile(%v) = %v", conf, z)
		}
	})
}
