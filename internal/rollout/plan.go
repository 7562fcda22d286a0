package rollout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
)

// ErrInvalidPlan is matched (errors.Is) by every error about a plan override.
// The error also wraps one *config.FieldError per problem (errors.As), whose
// Path names the field, e.g. "rollout.thresholds.max_p95".
var ErrInvalidPlan = errors.New("rollout: invalid plan")

// TestModeEnv names the environment variable that turns test mode on
// ("1" or "true"): every hold becomes TestHold.
const TestModeEnv = "BATON_TEST_MODE"

// TestHold is the hold of every step in test mode unless Options.TestHold
// says otherwise.
const TestHold = 100 * time.Millisecond

// TestModeFromEnv reports whether TestModeEnv asks for test mode.
func TestModeFromEnv() bool {
	v := os.Getenv(TestModeEnv)
	return v == "1" || v == "true"
}

// Plan is one rollout's schedule and gates, fixed when the rollout starts
// and stored with its state. Every field is set (defaults applied).
type Plan struct {
	// Steps are the green weights in percent, increasing, the last 100.
	Steps []float64 `json:"steps"`
	// Hold is how long each step runs before its gate.
	Hold Duration `json:"hold"`
	// MinSessions is how many sessions green must hold before a gate may
	// pass.
	MinSessions int `json:"min_sessions"`
	// MinSamples is how many operations and latency samples each backend
	// needs before a gate may pass.
	MinSamples int `json:"min_samples"`
	// MaxExtensions is how many extra holds an inconclusive step gets.
	MaxExtensions int `json:"max_extensions"`
	// MovesPerSecond paces the moves of each step when the shifter supports
	// per-call pacing (PacedShifter); 0 means the shifter's own pacing.
	MovesPerSecond int `json:"moves_per_second"`
	// PrepareNext prepares the next step's moves during each hold (see
	// config.Rollout.PrepareNext and Preparer).
	PrepareNext bool `json:"prepare_next"`
	// Thresholds are the absolute gates on green.
	Thresholds Thresholds `json:"thresholds"`
	// NonInferiority is the relative gate, green against blue.
	NonInferiority NonInferiority `json:"non_inferiority"`
}

// Thresholds mirror config.Thresholds.
type Thresholds struct {
	MaxErrorRate                float64  `json:"max_error_rate"`
	MaxP95                      Duration `json:"max_p95"`
	MaxP99                      Duration `json:"max_p99"` // 0: not checked
	MinConnectionPreservation   float64  `json:"min_connection_preservation"`
	MinSubscriptionPreservation float64  `json:"min_subscription_preservation"`
}

// NonInferiority mirrors config.NonInferiority.
type NonInferiority struct {
	Confidence      float64  `json:"confidence"`
	ErrorRateMargin float64  `json:"error_rate_margin"`
	LatencyMargin   Duration `json:"latency_margin"`
}

// Weight returns the weight of step n (1-based); 0 outside the plan.
func (p *Plan) Weight(n int) router.Weight {
	if n < 1 || n > len(p.Steps) {
		return 0
	}
	w, _ := router.FromPercent(p.Steps[n-1]) // validated by NewPlan
	return w
}

// Override changes parts of the configured plan for one rollout. Nil (or
// empty Steps) keeps the configured value; zero values mean the config
// default, as in the YAML. JSON names follow the `rollout:` config section.
type Override struct {
	Steps          []float64               `json:"steps,omitempty"`
	Hold           *Duration               `json:"hold,omitempty"`
	MinSessions    *int                    `json:"min_sessions,omitempty"`
	MinSamples     *int                    `json:"min_samples,omitempty"`
	MaxExtensions  *int                    `json:"max_extensions,omitempty"`
	MovesPerSecond *int                    `json:"moves_per_second,omitempty"`
	PrepareNext    *bool                   `json:"prepare_next,omitempty"`
	Thresholds     *ThresholdsOverride     `json:"thresholds,omitempty"`
	NonInferiority *NonInferiorityOverride `json:"non_inferiority,omitempty"`
	// AllowDecrease is no part of the plan: it lets Start begin with a
	// first step below the current weight, which moves sessions back to
	// blue (see DecreaseError).
	AllowDecrease bool `json:"allow_decrease,omitempty"`
}

// ThresholdsOverride overrides Thresholds field by field.
type ThresholdsOverride struct {
	MaxErrorRate                *float64  `json:"max_error_rate,omitempty"`
	MaxP95                      *Duration `json:"max_p95,omitempty"`
	MaxP99                      *Duration `json:"max_p99,omitempty"`
	MinConnectionPreservation   *float64  `json:"min_connection_preservation,omitempty"`
	MinSubscriptionPreservation *float64  `json:"min_subscription_preservation,omitempty"`
}

// NonInferiorityOverride overrides NonInferiority field by field.
type NonInferiorityOverride struct {
	Confidence      *float64  `json:"confidence,omitempty"`
	ErrorRateMargin *float64  `json:"error_rate_margin,omitempty"`
	LatencyMargin   *Duration `json:"latency_margin,omitempty"`
}

// ParseOverride decodes a start request body. Empty input (or "null") means
// no override. Unknown fields are refused so a typo is not silently ignored.
func ParseOverride(data []byte) (*Override, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var o Override
	if err := dec.Decode(&o); err != nil {
		// The decoder names an unknown field without the objects around
		// it ("bogus" for thresholds.bogus).
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			if path := unknownKey(data, reflect.TypeFor[Override]()); path != "" {
				err = &config.FieldError{Path: "rollout." + path, Msg: "unknown field"}
			}
		}
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			err = wrongType(te)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidPlan, err)
	}
	// More would miss a stray '}' or ']': only the end of the input will do.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the plan", ErrInvalidPlan)
	}
	return &o, nil
}

// wrongType says, in the override's words, what the field te names
// takes, instead of encoding/json's "cannot unmarshal number into Go
// struct field Override.hold of type rollout.Duration".
func wrongType(te *json.UnmarshalTypeError) error {
	if te.Field == "" {
		return errors.New(`the override must be a JSON object, like {"hold": "30s"}`)
	}
	t := reflect.TypeFor[Override]()
	for key := range strings.SplitSeq(te.Field, ".") {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return te
		}
		_, ft, ok := jsonField(t, key)
		if !ok {
			return te
		}
		t = ft
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var takes string
	switch {
	case t == reflect.TypeFor[Duration]():
		takes = `a duration string, like "30s"`
		// A string that is no duration (Duration.UnmarshalJSON) is
		// shown: the sender did send a string.
		if given, ok := strings.CutPrefix(te.Value, "string "); ok {
			takes += ", got " + given
		}
	case t == reflect.TypeFor[[]float64]():
		takes = "a list of percentages, like [10, 25, 50, 100]"
	case t.Kind() == reflect.Int:
		takes = "a whole number"
	case t.Kind() == reflect.Bool:
		takes = "true or false"
	case t.Kind() == reflect.Float64:
		takes = "a number"
	case t.Kind() == reflect.Struct:
		takes = "an object"
	default:
		return te
	}
	return &config.FieldError{Path: "rollout." + te.Field, Msg: "must be " + takes}
}

// unknownKey returns the path ("thresholds.bogus") of the first key of the
// JSON object data, in document order, that the struct type t has no field
// for, looking into the fields that are structs or pointers to them; ""
// when it finds none. Keys match as encoding/json matches them; a known
// key is named by its field's JSON name.
func unknownKey(data []byte, t reflect.Type) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for dec.More() {
		tok, err := dec.Token()
		key, _ := tok.(string)
		var value json.RawMessage
		if err != nil || dec.Decode(&value) != nil {
			return ""
		}
		name, ft, ok := jsonField(t, key)
		if !ok {
			return key
		}
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			if sub := unknownKey(value, ft); sub != "" {
				return name + "." + sub
			}
		}
	}
	return ""
}

// jsonField finds the field of struct type t that encoding/json decodes
// key into: the exact JSON name, else one equal under case folding.
func jsonField(t reflect.Type, key string) (name string, ft reflect.Type, ok bool) {
	for f := range t.Fields() {
		n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if n == "" {
			n = f.Name
		}
		if !f.IsExported() || n == "-" {
			continue
		}
		if n == key {
			return n, f.Type, true
		}
		if !ok && strings.EqualFold(n, key) {
			name, ft, ok = n, f.Type, true
		}
	}
	return name, ft, ok
}

// NewPlan returns base with o applied, defaults filled and validated. base
// is not modified. Problems name their field ("rollout.hold"); all of them
// are reported, joined.
func NewPlan(base config.Rollout, o *Override) (Plan, error) {
	r := base
	r.Steps = slices.Clone(base.Steps)
	movesPerSecond := 0
	if o != nil {
		o.applyTo(&r)
		if o.MovesPerSecond != nil {
			movesPerSecond = *o.MovesPerSecond
		}
	}
	r.SetDefaults()
	err := r.Validate()
	if movesPerSecond < 0 {
		err = errors.Join(err, &config.FieldError{Path: "rollout.moves_per_second",
			Msg: fmt.Sprintf("must not be negative, got %d", movesPerSecond)})
	}
	if err != nil {
		return Plan{}, fmt.Errorf("%w: %w", ErrInvalidPlan, err)
	}
	return Plan{
		Steps:          r.Steps,
		Hold:           Duration(r.Hold),
		MinSessions:    r.MinSessions,
		MinSamples:     r.MinSamples,
		MaxExtensions:  r.Extensions(),
		MovesPerSecond: movesPerSecond,
		PrepareNext:    r.PrepareNext,
		Thresholds: Thresholds{
			MaxErrorRate:                r.Thresholds.MaxErrorRate,
			MaxP95:                      Duration(r.Thresholds.MaxP95),
			MaxP99:                      Duration(r.Thresholds.MaxP99),
			MinConnectionPreservation:   r.Thresholds.MinConnectionPreservation,
			MinSubscriptionPreservation: r.Thresholds.MinSubscriptionPreservation,
		},
		NonInferiority: NonInferiority{
			Confidence:      r.NonInferiority.Confidence,
			ErrorRateMargin: r.NonInferiority.ErrorRateMargin,
			LatencyMargin:   Duration(r.NonInferiority.LatencyMargin),
		},
	}, nil
}

func (o *Override) applyTo(r *config.Rollout) {
	if len(o.Steps) > 0 {
		r.Steps = slices.Clone(o.Steps)
	}
	setDur(&r.Hold, o.Hold)
	set(&r.MinSessions, o.MinSessions)
	set(&r.MinSamples, o.MinSamples)
	set(&r.MaxExtensions, o.MaxExtensions)
	if o.PrepareNext != nil { // false turns off a configured true
		r.PrepareNext = *o.PrepareNext
	}
	if t := o.Thresholds; t != nil {
		set(&r.Thresholds.MaxErrorRate, t.MaxErrorRate)
		setDur(&r.Thresholds.MaxP95, t.MaxP95)
		setDur(&r.Thresholds.MaxP99, t.MaxP99)
		set(&r.Thresholds.MinConnectionPreservation, t.MinConnectionPreservation)
		set(&r.Thresholds.MinSubscriptionPreservation, t.MinSubscriptionPreservation)
	}
	if n := o.NonInferiority; n != nil {
		set(&r.NonInferiority.Confidence, n.Confidence)
		set(&r.NonInferiority.ErrorRateMargin, n.ErrorRateMargin)
		setDur(&r.NonInferiority.LatencyMargin, n.LatencyMargin)
	}
}

// set and setDur apply an override's field. A field given as zero counts
// as not given, as in the config file (docs/api.md): the configured value
// stays, rather than the built-in default that SetDefaults would put in
// its place.
func set[T comparable](dst *T, v *T) {
	var zero T
	if v != nil && *v != zero {
		*dst = *v
	}
}

func setDur(dst *time.Duration, v *Duration) {
	if v != nil && *v != 0 {
		*dst = time.Duration(*v)
	}
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("30s", "1m30s"), so stored states and API bodies stay readable.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string such as "100ms". Any other JSON
// value is a *json.UnmarshalTypeError, which the decoder completes with
// the field's path (see ParseOverride).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &json.UnmarshalTypeError{Value: te.Value, Type: reflect.TypeFor[Duration](), Offset: te.Offset}
		}
		return fmt.Errorf(`duration must be a string like "30s": %w`, err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		// As a type error, encoding/json adds the field's path to it
		// and ParseOverride then says what the field takes.
		return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(s), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}
