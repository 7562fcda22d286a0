package rollout

import "time"

// Outcome is a gate's answer.
type Outcome string

// Outcomes.
const (
	Pass         Outcome = "pass"
	Fail         Outcome = "fail"
	Inconclusive Outcome = "inconclusive" // not enough evidence either way
)

// Check names.
const (
	CheckSessions        = "green_sessions"
	CheckErrorRate       = "green_error_rate"
	CheckP95             = "green_p95"
	CheckP99             = "green_p99"
	CheckConnections     = "connection_preservation"
	CheckSubscriptions   = "subscription_preservation"
	CheckErrorRateVsBlue = "error_rate_vs_blue"
	CheckLatencyVsBlue   = "p95_vs_blue"
	CheckExtensions      = "extensions" // an inconclusive step ran out of extensions
)

// Verdict is one gate evaluation with every number it was based on. Rates
// are fractions (0.01 is 1 %); latencies in the tests are milliseconds.
type Verdict struct {
	Step      int       `json:"step"`   // 1-based
	Weight    float64   `json:"weight"` // percent on green
	Extension int       `json:"extension"`
	Time      time.Time `json:"time"`
	Outcome   Outcome   `json:"outcome"`
	// Reasons explain every check that did not pass, one line each.
	Reasons []string `json:"reasons,omitempty"`
	Checks  []Check  `json:"checks"`

	Green        Measure           `json:"green"`
	Blue         Measure           `json:"blue"`
	ErrorRate    *ErrorRateTest    `json:"error_rate_test,omitempty"` // nil: too few samples
	Latency      *LatencyTest      `json:"latency_test,omitempty"`    // nil: too few samples
	Preservation PreservationRates `json:"preservation"`
}

// Check is one gate condition.
type Check struct {
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	Value   float64 `json:"value"`
	Limit   float64 `json:"limit"`
	Detail  string  `json:"detail"`
}

// Measure is one backend's numbers at the gate.
type Measure struct {
	Sessions  int      `json:"sessions"`
	Total     int64    `json:"total"`
	Errors    int64    `json:"errors"`
	ErrorRate float64  `json:"error_rate"`
	P50       Duration `json:"p50"`
	P95       Duration `json:"p95"`
	P99       Duration `json:"p99"`
	Samples   int      `json:"latency_samples"`
}

// ErrorRateTest is the two-proportion z-test of green against blue.
type ErrorRateTest struct {
	Diff       float64 `json:"diff"` // green − blue
	CILow      float64 `json:"ci_low"`
	CIHigh     float64 `json:"ci_high"`
	Confidence float64 `json:"confidence"`
	Z          float64 `json:"z"`
	PTwoSided  float64 `json:"p_two_sided"`
	PGreater   float64 `json:"p_greater"` // H1: green's rate is higher
	Margin     float64 `json:"margin"`
}

// LatencyTest compares green's latency with blue's: the bootstrap CI of
// the P95 difference decides, Mann-Whitney U is reported beside it.
type LatencyTest struct {
	P95GreenMs float64 `json:"p95_green_ms"`
	P95BlueMs  float64 `json:"p95_blue_ms"`
	DiffMs     float64 `json:"p95_diff_ms"` // green − blue
	CILowMs    float64 `json:"ci_low_ms"`
	CIHighMs   float64 `json:"ci_high_ms"`
	Confidence float64 `json:"confidence"`
	Resamples  int     `json:"resamples"`
	MarginMs   float64 `json:"margin_ms"`
	// Mann-Whitney U of green against blue; PGreater tests "green slower".
	U              float64 `json:"mann_whitney_u"`
	Z              float64 `json:"mann_whitney_z"`
	PGreater       float64 `json:"mann_whitney_p_greater"`
	Exact          bool    `json:"mann_whitney_exact"`
	CommonLanguage float64 `json:"common_language"` // P(green sample > blue sample)
}

// PreservationRates are the moves of the step and what they kept. A rate
// is 1 when nothing was tried.
type PreservationRates struct {
	MovesTried         uint64  `json:"moves_tried"`
	SocketsKept        uint64  `json:"sockets_kept"`
	Connection         float64 `json:"connection"`
	SubscriptionsTried uint64  `json:"subscriptions_tried"`
	SubscriptionsKept  uint64  `json:"subscriptions_kept"`
	Subscription       float64 `json:"subscription"`
}
