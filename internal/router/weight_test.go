package router

import (
	"errors"
	"testing"
)

func TestParseWeight(t *testing.T) {
	good := map[string]Weight{
		"0": 0, "25": 2500, "25%": 2500, " 25 % ": 2500, "12.5": 1250, "12.50%": 1250,
		"0.01": 1, "0.1%": 10, "100": Full, "100.00%": Full, "007": 700, "99.99": 9999,
	}
	for in, want := range good {
		got, err := ParseWeight(in)
		if err != nil || got != want {
			t.Errorf("ParseWeight(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "%", "-1", "+5", "100.01", "101", "1000", "1e2", "12.345", ".5", "5.", "25%%",
		"0x10", "twenty", "25 percent", "1,5", "NaN", "Inf", "99999999999999999999999",
	} {
		if w, err := ParseWeight(in); !errors.Is(err, ErrInvalidWeight) {
			t.Errorf("ParseWeight(%q) = %v, %v; want ErrInvalidWeight", in, w, err)
		}
	}
}

func TestFromPercent(t *testing.T) {
	for p, want := range map[float64]Weight{0: 0, 10: 1000, 12.34: 1234, 0.07: 7, 100: Full, 33.33: 3333} {
		if got, err := FromPercent(p); err != nil || got != want {
			t.Errorf("FromPercent(%v) = %v, %v; want %v", p, got, err, want)
		}
	}
	nan := 0.0
	nan /= nan
	for _, p := range []float64{-0.01, 100.01, 12.345, 1e300, nan} {
		if _, err := FromPercent(p); !errors.Is(err, ErrInvalidWeight) {
			t.Errorf("FromPercent(%v): err %v, want ErrInvalidWeight", p, err)
		}
	}
}

func TestWeightString(t *testing.T) {
	for w, want := range map[Weight]string{0: "0%", 1: "0.01%", 1250: "12.5%", 2500: "25%", 1234: "12.34%", Full: "100%"} {
		if got := w.String(); got != want {
			t.Errorf("Weight(%d).String() = %q, want %q", w, got, want)
		}
	}
}

// Any input either fails with ErrInvalidWeight or yields a valid weight that
// round-trips through String and Percent.
func FuzzParseWeight(f *testing.F) {
	for _, s := range []string{"0", "25", "25%", "12.5", "12.5 %", "0.01%", "100", "100.00", "101", "-3", "1e2", " 7 ", "50%%", "9.999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWeight(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidWeight) {
				t.Fatalf("ParseWeight(%q): error %v does not match ErrInvalidWeight", s, err)
			}
			return
		}
		if !w.Valid() {
			t.Fatalf("ParseWeight(%q) = %d: out of range", s, w)
		}
		if back, err := ParseWeight(w.String()); err != nil || back != w {
			t.Fatalf("ParseWeight(%q) = %d, String %q reads back as %d, %v", s, w, w.String(), back, err)
		}
		if back, err := FromPercent(w.Percent()); err != nil || back != w {
			t.Fatalf("weight %d: FromPercent(%v) = %d, %v", w, w.Percent(), back, err)
		}
	})
}
