package demo

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/baton-rt/baton/internal/service"
)

// ErrBadFault is wrapped by ParseFault's errors.
var ErrBadFault = errors.New("demo: bad --fault")

// FaultKind names what goes wrong with green.
type FaultKind string

// Fault kinds.
const (
	FaultNone    FaultKind = ""
	FaultLatency FaultKind = "green-latency"  // every publish reply of green is late
	FaultErrors  FaultKind = "green-errors"   // a share of green's publishes is refused
	FaultCrash   FaultKind = "green-crash-at" // green dies when the rollout reaches a weight
)

// Fault is the failure the demo injects into green. The zero value is a
// healthy green.
type Fault struct {
	Kind FaultKind
	// Latency is the added delay (FaultLatency).
	Latency time.Duration
	// ErrorRate is the refused share, 0 to 1 (FaultErrors).
	ErrorRate float64
	// CrashAt is the green weight in percent at which green dies
	// (FaultCrash): once a step at or above that weight has been applied.
	CrashAt float64
}

// ParseFault reads a --fault value: "green-latency=800ms",
// "green-errors=5%" (or 0.05), "green-crash-at=50" (percent), or "" for
// none.
func ParseFault(s string) (Fault, error) {
	if s == "" || s == "none" {
		return Fault{}, nil
	}
	name, val, ok := strings.Cut(s, "=")
	if !ok || val == "" {
		return Fault{}, fmt.Errorf("%w: %q: want NAME=VALUE (green-latency=800ms, green-errors=5%%, green-crash-at=50)", ErrBadFault, s)
	}
	bad := func(why string) (Fault, error) { return Fault{}, fmt.Errorf("%w: %q: %s", ErrBadFault, s, why) }
	switch FaultKind(name) {
	case FaultLatency:
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 || d > time.Minute {
			return bad("want a duration in (0, 1m], e.g. 800ms")
		}
		return Fault{Kind: FaultLatency, Latency: d}, nil
	case FaultErrors:
		r, err := parseShare(val)
		if err != nil || r <= 0 || r > 1 {
			return bad("want a share in (0, 100%], e.g. 5% or 0.05")
		}
		return Fault{Kind: FaultErrors, ErrorRate: r}, nil
	case FaultCrash:
		p, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
		if err != nil || math.IsNaN(p) || p <= 0 || p > 100 {
			return bad("want a weight in (0, 100], e.g. 50")
		}
		return Fault{Kind: FaultCrash, CrashAt: p}, nil
	}
	return bad("unknown fault (want green-latency, green-errors or green-crash-at)")
}

// parseShare reads "5%" as 0.05 and "0.05" as itself.
func parseShare(v string) (float64, error) {
	pct := strings.HasSuffix(v, "%")
	r, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(r) {
		return 0, errors.New("NaN")
	}
	if pct {
		r /= 100
	}
	return r, nil
}

// String renders f as ParseFault reads it.
func (f Fault) String() string {
	switch f.Kind {
	case FaultLatency:
		return fmt.Sprintf("%s=%s", f.Kind, f.Latency)
	case FaultErrors:
		return fmt.Sprintf("%s=%s%%", f.Kind, strconv.FormatFloat(f.ErrorRate*100, 'f', -1, 64))
	case FaultCrash:
		return fmt.Sprintf("%s=%s", f.Kind, strconv.FormatFloat(f.CrashAt, 'f', -1, 64))
	}
	return "none"
}

// serviceFaults is what the green service itself injects; nil for none
// (the crash is done to its listener, not inside the service).
func (f Fault) serviceFaults() *service.Faults {
	switch f.Kind {
	case FaultLatency:
		return &service.Faults{Latency: f.Latency}
	case FaultErrors:
		return &service.Faults{ErrorRate: f.ErrorRate}
	}
	return nil
}
