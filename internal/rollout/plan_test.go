package rollout

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

func fieldPaths(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*config.FieldError); ok {
			out = append(out, fe.Path)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func TestNewPlanDefaults(t *testing.T) {
	p, err := NewPlan(config.Rollout{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Steps, []float64{10, 25, 50, 75, 100}) || p.Hold.D() != 30*time.Second ||
		p.MinSamples != 200 || p.MaxExtensions != 3 || p.Thresholds.MaxErrorRate != 0.01 ||
		p.Thresholds.MaxP95.D() != 500*time.Millisecond || p.Thresholds.MinConnectionPreservation != 0.999 ||
		p.Thresholds.MinSubscriptionPreservation != 1 || p.NonInferiority.Confidence != 0.95 ||
		p.NonInferiority.LatencyMargin.D() != 50*time.Millisecond || p.NonInferiority.ErrorRateMargin != 0.02 {
		t.Errorf("defaults: %+v", p)
	}
	if p.Weight(1) != 1000 || p.Weight(5) != 10000 || p.Weight(0) != 0 || p.Weight(6) != 0 {
		t.Error("Weight")
	}
}

func TestNewPlanOverride(t *testing.T) {
	base := config.Rollout{Steps: []float64{20, 100}, Hold: time.Minute, MinSessions: 5}
	o, err := ParseOverride([]byte(`{"steps":[5,50,100],"hold":"2s","max_extensions":-1,"moves_per_second":300,
		"thresholds":{"max_p99":"900ms"},"non_inferiority":{"latency_margin":"20ms"}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(base, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Steps, []float64{5, 50, 100}) || p.Hold.D() != 2*time.Second || p.MinSessions != 5 ||
		p.MaxExtensions != 0 || p.MovesPerSecond != 300 || p.Thresholds.MaxP99.D() != 900*time.Millisecond ||
		p.NonInferiority.LatencyMargin.D() != 20*time.Millisecond {
		t.Errorf("plan %+v", p)
	}
	if !slices.Equal(base.Steps, []float64{20, 100}) || base.Hold != time.Minute {
		t.Error("NewPlan modified its base")
	}
}

func TestPlanErrorsNameFields(t *testing.T) {
	for _, tc := range []struct {
		body string
		path string
	}{
		{`{"steps":[10,50]}`, "rollout.steps"},
		{`{"steps":[10,10.001,100]}`, "rollout.steps[1]"},
		{`{"hold":"-1s"}`, "rollout.hold"},
		{`{"min_sessions":-3}`, "rollout.min_sessions"},
		{`{"thresholds":{"max_error_rate":1.5}}`, "rollout.thresholds.max_error_rate"},
		{`{"thresholds":{"max_p99":"100ms"}}`, "rollout.thresholds.max_p99"},
		{`{"non_inferiority":{"confidence":0.3}}`, "rollout.non_inferiority.confidence"},
		{`{"moves_per_second":-1}`, "rollout.moves_per_second"},
	} {
		o, err := ParseOverride([]byte(tc.body))
		if err != nil {
			t.Errorf("%s: parse: %v", tc.body, err)
			continue
		}
		_, err = NewPlan(config.Rollout{}, o)
		if !errors.Is(err, ErrInvalidPlan) || !slices.Contains(fieldPaths(err), tc.path) {
			t.Errorf("%s: got %v, want a problem at %s", tc.body, err, tc.path)
		}
	}
}

func TestParseOverride(t *testing.T) {
	for _, body := range []string{``, ` null `} {
		if o, err := ParseOverride([]byte(body)); o != nil || err != nil {
			t.Errorf("%q: %v %v", body, o, err)
		}
	}
	for _, body := range []string{`{"hodl":"1s"}`, `{"hold":30}`, `{"hold":"soon"}`, `{} {}`, `[`, `{"steps":"10"}`, `{"hold":"1s"}}`, `{"hold":"1s"}]`, `{"hold":"1s"} x`} {
		if _, err := ParseOverride([]byte(body)); !errors.Is(err, ErrInvalidPlan) {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// TestOverrideDurationThatDoesNotParseSaysWhatWasGiven: a duration
// override that is a string but no Go duration ("30 sec") is answered
// with the string given, as the config file's error is; "must be a
// duration string" alone reads as if a string had not been sent.
func TestOverrideDurationThatDoesNotParseSaysWhatWasGiven(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"hold":"30 sec"}`, `rollout.hold: must be a duration string, like "30s", got "30 sec"`},
		{`{"thresholds":{"max_p95":"fast"}}`, `rollout.thresholds.max_p95: must be a duration string, like "30s", got "fast"`},
		{`{"hold":30}`, `rollout.hold: must be a duration string, like "30s"`},
	} {
		_, err := ParseOverride([]byte(tc.body))
		if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want it to end %q", tc.body, err, tc.want)
		}
	}
}

func TestTestModeFromEnv(t *testing.T) {
	t.Setenv(TestModeEnv, "1")
	if !TestModeFromEnv() {
		t.Error("1")
	}
	t.Setenv(TestModeEnv, "")
	if TestModeFromEnv() {
		t.Error("empty")
	}
}

func FuzzPlanOverride(f *testing.F) {
	for _, s := range []string{
		`{"steps":[5,50,100],"hold":"2s","max_extensions":-1,"moves_per_second":300}`,
		`{"thresholds":{"max_error_rate":0.02,"max_p95":"1s","max_p99":"2s","min_connection_preservation":0.99}}`,
		`{"non_inferiority":{"confidence":0.9,"error_rate_margin":0.01,"latency_margin":"20ms"}}`,
		`{"steps":[1e308,100]}`, `{"steps":[-1,100]}`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseOverride(data)
		if err != nil {
			return
		}
		p, err := NewPlan(config.Rollout{}, o)
		if err != nil {
			if !errors.Is(err, ErrInvalidPlan) {
				t.Fatalf("error not matching ErrInvalidPlan: %v", err)
			}
			return
		}
		// A plan that validates is usable: every step has a weight and the
		// last one is 100 %.
		for i := range p.Steps {
			if p.Weight(i+1) == 0 {
				t.Fatalf("step %d of %v has no weight", i+1, p.Steps)
			}
		}
		if p.Weight(len(p.Steps)) != 10000 || p.Hold <= 0 {
			t.Fatalf("plan %+v", p)
		}
	})
}

// TestOverrideBadDurationNamesItsField: a duration string that does not
// parse ("abc", or 30 typed as "30") names its field, as the dashboard
// outlines it, and says what it takes.
func TestOverrideBadDurationNamesItsField(t *testing.T) {
	for _, tc := range []struct{ body, path string }{
		{`{"hold":"abc"}`, "rollout.hold"},
		{`{"hold":"30"}`, "rollout.hold"},
		{`{"thresholds":{"max_p95":"fast"}}`, "rollout.thresholds.max_p95"},
		{`{"non_inferiority":{"latency_margin":"1 ms"}}`, "rollout.non_inferiority.latency_margin"},
	} {
		_, err := ParseOverride([]byte(tc.body))
		fe, ok := errors.AsType[*config.FieldError](err)
		if !errors.Is(err, ErrInvalidPlan) || !ok || fe.Path != tc.path || !strings.Contains(err.Error(), `like "30s"`) {
			t.Errorf("%s: got %v, want a problem at %s saying what it takes", tc.body, err, tc.path)
		}
	}
}
