package cli

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzWeightArg: the weight argument of `baton weight set|prepare` becomes
// a JSON body {"weight": N} that encoding/json reads back as the number
// strconv read from it, or an error naming the argument; never a body that
// is not JSON.
func FuzzWeightArg(f *testing.F) {
	for _, s := range []string{"25", "25%", "12.5", "0.01%", "100", "0", "-5", "1e2", "0x1p-2", "1_000", "NaN", "Inf", "+Inf%", "1e400", "half", "25%%", " 25", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		body, err := weightBody(arg)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(arg)) {
				t.Fatalf("weightBody(%q): error %q does not name the argument", arg, err)
			}
			return
		}
		var v struct{ Weight *float64 }
		if json.Unmarshal(body, &v) != nil || v.Weight == nil {
			t.Fatalf("weightBody(%q) = %s: not a JSON weight", arg, body)
		}
		want, _ := strconv.ParseFloat(strings.TrimSuffix(arg, "%"), 64)
		if *v.Weight != want || math.IsNaN(want) {
			t.Fatalf("weightBody(%q) = %s, want the weight %v", arg, body, want)
		}
	})
}
