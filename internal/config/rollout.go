package config

import (
	"os"
	"time"
)

// Rollout is the default plan of the rollout controller; a start request may
// override it. Steps are percentages of users on green; between steps the
// controller holds, then asks the gates for a verdict.
type Rollout struct {
	// Steps are the green weights in percent, strictly increasing, each in
	// (0, 100], the last one 100. Empty means [10, 25, 50, 75, 100].
	Steps []float64 `yaml:"steps"`
	// Hold is how long each step runs before its gate is evaluated. Zero
	// means 30s.
	Hold time.Duration `yaml:"hold"`
	// MinSessions is how many sessions green must hold before a gate may
	// pass; until then the verdict is inconclusive. Zero means no minimum
	// (the probe supplies samples).
	MinSessions int `yaml:"min_sessions"`
	// MinSamples is how many requests and latency samples each backend must
	// have since the step began (at most the health window) before a gate
	// may pass. Zero means 200.
	MinSamples int `yaml:"min_samples"`
	// MaxExtensions is how many times an inconclusive verdict may extend a
	// step by one more Hold before the step fails. Zero means 3; a negative
	// value means none (inconclusive fails at once).
	MaxExtensions int `yaml:"max_extensions"`
	// PrepareNext dials, during each step's hold, the green connections
	// of the sessions the next step will move (the gateway's
	// PrepareWeight), so that the next step's moves only resubscribe:
	// shorter steps, shorter delivery pauses. Off by default: green then
	// sees those users connect (its connection handler runs) one hold
	// before they move, and holds their idle connections meanwhile.
	PrepareNext bool `yaml:"prepare_next"`
	// Thresholds are the absolute gates on green.
	Thresholds Thresholds `yaml:"thresholds"`
	// NonInferiority is the relative gate: green compared with blue.
	NonInferiority NonInferiority `yaml:"non_inferiority"`
	// Store is where rollout state, verdicts and events persist.
	Store Store `yaml:"store"`
	// Alerts are notified of rollout transitions.
	Alerts Alerts `yaml:"alerts"`
}

// Thresholds are absolute limits green must stay within at every gate.
type Thresholds struct {
	// MaxErrorRate is the highest error rate (errors / operations, 0 to 1)
	// allowed on green. Zero means 0.01 (1 %).
	MaxErrorRate float64 `yaml:"max_error_rate"`
	// MaxP95 is the highest 95th-percentile latency allowed on green. Zero
	// means 500ms.
	MaxP95 time.Duration `yaml:"max_p95"`
	// MaxP99 is the highest 99th-percentile latency allowed on green. Zero
	// means not checked.
	MaxP99 time.Duration `yaml:"max_p99"`
	// MinConnectionPreservation is the lowest share (0 to 1) of moves that
	// kept the client socket open. Zero means 0.999.
	MinConnectionPreservation float64 `yaml:"min_connection_preservation"`
	// MinSubscriptionPreservation is the lowest share (0 to 1) of
	// subscriptions present on the new backend after a move. Zero means 1
	// (every subscription).
	MinSubscriptionPreservation float64 `yaml:"min_subscription_preservation"`
}

// NonInferiority compares green with blue: green passes when, at the given
// confidence, it is not worse than blue by more than the margins.
type NonInferiority struct {
	// Confidence is the confidence level of the intervals and tests, between
	// 0.5 and 1 exclusive. Zero means 0.95.
	Confidence float64 `yaml:"confidence"`
	// ErrorRateMargin is how much higher green's error rate may be than
	// blue's (absolute difference, two-proportion z-test). Zero means 0.02
	// (two percentage points).
	ErrorRateMargin float64 `yaml:"error_rate_margin"`
	// LatencyMargin is how much higher green's P95 latency may be than
	// blue's. Zero means 50ms.
	LatencyMargin time.Duration `yaml:"latency_margin"`
}

// Store kinds.
const (
	StoreBolt   = "bolt"
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

// What a gateway does when another holds its Redis store.
const (
	WhenHeldFail    = "fail"
	WhenHeldStandby = "standby"
	WhenHeldFollow  = "follow"
)

// Store is where rollout state persists, so a restarted gateway resumes.
type Store struct {
	// Kind is "bolt" (a bbolt file), "redis" (a Redis server, for a
	// gateway with no disk of its own to come back to) or "memory" (lost
	// on exit; tests and demo). Empty means "bolt".
	Kind string `yaml:"kind"`
	// Path is the bbolt file; a relative path is relative to the working
	// directory. Empty means "baton.db". Only for kind bolt.
	Path string `yaml:"path"`
	// URL is the Redis server, redis://[user:password@]host:port[/db] or
	// rediss:// for TLS. Only for kind redis, which requires it or URLEnv.
	URL string `yaml:"url"`
	// URLEnv names an environment variable holding URL, so that the file
	// need not hold a password. Set URL or URLEnv, not both.
	URLEnv string `yaml:"url_env"`
	// Prefix starts every key the store writes, so that several
	// deployments can share one Redis. Empty means "baton:store:". Only
	// for kind redis.
	Prefix string `yaml:"prefix"`
	// Lease is how long the store stays held by a gateway that stopped
	// without releasing it (killed, or cut off from Redis): a second
	// gateway on the same prefix is refused until then. Empty means 15s.
	// Only for kind redis.
	Lease time.Duration `yaml:"lease"`
	// WhenHeld says what a gateway does when another holds the store:
	// "fail" (exit naming the holder), "standby" (wait, listening nowhere,
	// then take the store and resume the rollout) or "follow" (serve
	// clients at the weights the holder stores, and take the store when
	// the holder goes). Empty means "fail". Only for kind redis.
	WhenHeld string `yaml:"when_held"`
}

// RedisURL is the Redis store's URL: URL, or the value of URLEnv.
func (s Store) RedisURL() string {
	if s.URL != "" {
		return s.URL
	}
	return os.Getenv(s.URLEnv)
}

// Webhook kinds.
const (
	WebhookGeneric   = "generic"
	WebhookSlack     = "slack"
	WebhookPagerDuty = "pagerduty"
)

// DefaultPagerDutyURL is the PagerDuty Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Alerts are notifications of rollout transitions (start, step passed, gate
// failed, rollback started and finished, completed). A failing webhook is
// retried with backoff, through an outage of up to OutageTimeout or a
// throttle of up to ThrottleTimeout, and never blocks the rollout.
type Alerts struct {
	// Webhooks are notified of every transition, each in its own format.
	// Empty means no alerts.
	Webhooks []Webhook `yaml:"webhooks"`
	// Timeout bounds one delivery attempt. Zero means 5s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times a failed delivery (a network error, a
	// timeout, a 5xx or 408) is retried at least, with exponential backoff;
	// it goes on being retried until OutageTimeout. Zero means 3; negative
	// means none, throttled and outage tries included. Answers 429 Too Many
	// Requests do not count: see ThrottleTimeout.
	Retries int `yaml:"retries"`
	// Backoff is the wait before the first retry; it doubles each time.
	// Zero means 500ms.
	Backoff time.Duration `yaml:"backoff"`
	// ThrottleTimeout bounds how long a delivery that the receiver throttles
	// (429 Too Many Requests) is retried, from its first attempt, unless
	// Retries is negative. Zero means 10m.
	ThrottleTimeout time.Duration `yaml:"throttle_timeout"`
	// OutageTimeout bounds how long a delivery that fails because the
	// receiver is down (a network error, a timeout, a 5xx or 408) is
	// retried, from its first attempt, once its Retries are used up, unless
	// Retries is negative. A certificate that does not verify is not an
	// outage: it gets the Retries only. Zero means 10m.
	OutageTimeout time.Duration `yaml:"outage_timeout"`
}

// Webhook is one alert receiver.
type Webhook struct {
	// Kind is the payload format: "generic" (Baton's JSON event), "slack"
	// (incoming-webhook message) or "pagerduty" (Events API v2). Required.
	Kind string `yaml:"kind"`
	// URL receives the POST. Required, except for pagerduty where empty
	// means DefaultPagerDutyURL.
	URL string `yaml:"url"`
	// RoutingKey is the PagerDuty integration key. Required for pagerduty
	// unless RoutingKeyEnv is set; not allowed for other kinds.
	RoutingKey string `yaml:"routing_key"`
	// RoutingKeyEnv names an environment variable holding the routing key.
	RoutingKeyEnv string `yaml:"routing_key_env"`
}

// PagerDutyRoutingKey returns RoutingKey, or the value of RoutingKeyEnv.
func (w Webhook) PagerDutyRoutingKey() string {
	if w.RoutingKey != "" {
		return w.RoutingKey
	}
	return os.Getenv(w.RoutingKeyEnv)
}

// Extensions returns how many times an inconclusive step may be extended:
// MaxExtensions, with a negative value read as none.
func (r *Rollout) Extensions() int { return max(r.MaxExtensions, 0) }

// RetryCount returns how many times a failed alert is retried: Retries, with
// a negative value read as none.
func (a *Alerts) RetryCount() int { return max(a.Retries, 0) }
