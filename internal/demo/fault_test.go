package demo

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/service"
)

func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Fault
	}{
		{"", Fault{}},
		{"none", Fault{}},
		{"green-latency=800ms", Fault{Kind: FaultLatency, Latency: 800 * time.Millisecond}},
		{"green-errors=5%", Fault{Kind: FaultErrors, ErrorRate: 0.05}},
		{"green-errors=0.5", Fault{Kind: FaultErrors, ErrorRate: 0.5}},
		{"green-errors=100%", Fault{Kind: FaultErrors, ErrorRate: 1}},
		{"green-crash-at=50", Fault{Kind: FaultCrash, CrashAt: 50}},
		{"green-crash-at=12.5%", Fault{Kind: FaultCrash, CrashAt: 12.5}},
	} {
		got, err := ParseFault(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if tc.want.Kind != FaultNone {
			if again, err := ParseFault(got.String()); err != nil || again != got {
				t.Errorf("ParseFault(%q.String() = %q) = %+v, %v", tc.in, got.String(), again, err)
			}
		}
	}
	for _, in := range []string{
		"green-latency", "green-latency=", "green-latency=-1s", "green-latency=2m", "green-latency=fast",
		"green-errors=0", "green-errors=150%", "green-errors=NaN", "green-errors=x%",
		"green-crash-at=0", "green-crash-at=101", "green-crash-at=NaN", "blue-latency=1s", "=",
	} {
		if f, err := ParseFault(in); !errors.Is(err, ErrBadFault) {
			t.Errorf("ParseFault(%q) = %+v, %v; want ErrBadFault", in, f, err)
		}
	}
}

func FuzzParseFault(f *testing.F) {
	for _, s := range []string{"", "green-latency=800ms", "green-errors=5%", "green-errors=0.05", "green-crash-at=50", "green-crash-at=1e2", "x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFault(s)
		if err != nil {
			if !errors.Is(err, ErrBadFault) {
				t.Fatalf("ParseFault(%q): error %v does not wrap ErrBadFault", s, err)
			}
			return
		}
		if got.Kind == FaultNone {
			return
		}
		if err := got.serviceFaults().Validate(); err != nil {
			t.Fatalf("ParseFault(%q) = %+v, which the service refuses: %v", s, got, err)
		}
		again, err := ParseFault(got.String())
		if err != nil || again != got {
			t.Fatalf("round trip of %q: %q gives %+v, %v; want %+v", s, got.String(), again, err, got)
		}
	})
}

// TestStartBackendsFailsCleanly: a failure half-way through starting the
// backends (here green refusing its faults) is returned as an error, with
// blue closed again, rather than a panic in the cleanup.
func TestStartBackendsFailsCleanly(t *testing.T) {
	b, err := startBackends(&service.Faults{ErrorRate: 2}, slog.New(slog.DiscardHandler))
	if b != nil || !errors.Is(err, service.ErrInvalidLimits) {
		t.Fatalf("startBackends with bad faults = %v, %v; want nil and ErrInvalidLimits", b, err)
	}
}

// A bad configuration is refused by the name of its field.
func TestConfigValidateNamesTheField(t *testing.T) {
	for name, cfg := range map[string]Config{
		"clients":                  {Clients: -1},
		"subscriptions per client": {Channels: 3, PerClient: 4},
		"hold":                     {Hold: -time.Second},
		"catch-up":                 {CatchUp: -time.Second},
	} {
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an ErrInvalidConfig naming it", name, err)
		}
	}
}
