package router

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Weight is the share of users on green in basis points: 0 is nobody,
// 2500 is 25 %, Full (10000) is everybody. A user is on green when its bucket
// is below the weight, so one basis point is one bucket.
type Weight uint16

// Full is the weight that puts every user on green (100 %).
const Full Weight = Buckets

// ErrInvalidWeight is matched (errors.Is) by every error about a weight that
// is out of range or malformed.
var ErrInvalidWeight = errors.New("invalid weight")

// FromPercent converts a percentage in [0, 100] with at most two decimals
// (12.34) to a Weight.
func FromPercent(p float64) (Weight, error) {
	if math.IsNaN(p) || p < 0 || p > 100 {
		return 0, fmt.Errorf("%w: %v: must be between 0 and 100", ErrInvalidWeight, p)
	}
	bp := math.Round(p * 100)
	// Tolerate float noise (12.34*100 = 1233.9999999999998) but nothing
	// that would silently round to another bucket.
	if math.Abs(bp-p*100) > 1e-6 {
		return 0, fmt.Errorf("%w: %v: at most two decimals (one bucket is 0.01 %%)", ErrInvalidWeight, p)
	}
	return Weight(bp), nil
}

// ParseWeight reads a percentage as people write it: "25", "25%", "12.5",
// "12.5 %", "0.01%". The number is plain decimal (no sign, exponent or
// thousands separator) with at most two decimals, between 0 and 100;
// surrounding spaces are ignored.
func ParseWeight(s string) (Weight, error) {
	bad := func(why string) (Weight, error) {
		return 0, fmt.Errorf("%w: %q: %s", ErrInvalidWeight, s, why)
	}
	num := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(num, "%"); ok {
		num = strings.TrimSpace(p)
	}
	intPart, frac, hasPoint := strings.Cut(num, ".")
	if intPart == "" || !allDigits(intPart) || (hasPoint && (frac == "" || !allDigits(frac))) {
		return bad(`want a percentage like 25, 12.5 or "25%"`)
	}
	if len(frac) > 2 {
		return bad("at most two decimals (one bucket is 0.01 %)")
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 3 {
		return bad("must be between 0 and 100")
	}
	// Both parts are short digit strings now, so Atoi cannot fail or overflow.
	whole, _ := strconv.Atoi("0" + intPart)
	hundredths, _ := strconv.Atoi((frac + "00")[:2])
	bp := whole*100 + hundredths
	if bp > int(Full) {
		return bad("must be between 0 and 100")
	}
	return Weight(bp), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Valid reports whether w is within [0, Full].
func (w Weight) Valid() bool { return w <= Full }

// Percent returns w as a percentage (2500 → 25).
func (w Weight) Percent() float64 { return float64(w) / 100 }

// String formats w as a percentage with no trailing zeros: "25%", "12.5%".
// ParseWeight reads it back.
func (w Weight) String() string {
	return strconv.FormatFloat(w.Percent(), 'f', -1, 64) + "%"
}
