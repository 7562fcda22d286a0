package config

import "time"

// Defaults, in one place. Doc comments on the fields repeat them for readers.
const (
	DefaultListen                      = "127.0.0.1:8080"
	DefaultAdminListen                 = "127.0.0.1:9090"
	DefaultIdentityQuery               = "user"
	DefaultJWTClaim                    = "sub"
	DefaultJWTQuery                    = "token"
	DefaultNamespace                   = "/"
	DefaultDialTimeout                 = 5 * time.Second
	DefaultRequestTimeout              = 30 * time.Second
	DefaultSalt                        = "baton"
	DefaultMovesPerSecond              = 5000
	DefaultHandoverConcurrency         = 256
	DefaultHandoverTimeout             = 5 * time.Second
	DefaultDrainTimeout                = 5 * time.Second
	DefaultPrepareTTL                  = 5 * time.Minute
	DefaultRetryBackoff                = time.Second
	DefaultRetryMaxBackoff             = 30 * time.Second
	DefaultMaxMessageBytes             = 1 << 20
	DefaultMaxHeaderBytes              = 32 << 10
	DefaultMaxSubscriptions            = 100
	DefaultQueueMessages               = 1024
	DefaultQueueBytes                  = 4 << 20
	DefaultOverflow                    = OverflowDisconnect
	DefaultPingInterval                = 25 * time.Second
	DefaultPingTimeout                 = 20 * time.Second
	DefaultHealthWindow                = 60 * time.Second
	DefaultProbeInterval               = 100 * time.Millisecond
	DefaultProbeChannel                = "baton.probe"
	DefaultHold                        = 30 * time.Second
	DefaultMinSamples                  = 200
	DefaultMaxExtensions               = 3
	DefaultMaxErrorRate                = 0.01
	DefaultMaxP95                      = 500 * time.Millisecond
	DefaultMinConnectionPreservation   = 0.999
	DefaultMinSubscriptionPreservation = 1.0
	DefaultConfidence                  = 0.95
	DefaultErrorRateMargin             = 0.02
	DefaultLatencyMargin               = 50 * time.Millisecond
	DefaultStoreKind                   = StoreBolt
	DefaultStorePath                   = "baton.db"
	DefaultStorePrefix                 = "baton:store:"
	DefaultStoreLease                  = 15 * time.Second
	DefaultAlertTimeout                = 5 * time.Second
	DefaultAlertRetries                = 3
	DefaultAlertBackoff                = 500 * time.Millisecond
	DefaultAlertThrottleTimeout        = 10 * time.Minute
	DefaultAlertOutageTimeout          = 10 * time.Minute
	DefaultLogLevel                    = "info"
	DefaultLogFormat                   = "text"
)

// DefaultSteps returns the default rollout steps in percent.
func DefaultSteps() []float64 { return []float64{10, 25, 50, 75, 100} }

// Default event names of the reference services (same on both protocols).
const (
	DefaultEventSubscribe   = "subscribe"
	DefaultEventUnsubscribe = "unsubscribe"
	DefaultEventPublish     = "publish"
	DefaultEventMessage     = "message"
)

// SetDefaults replaces every zero field that has a default with it. It is
// idempotent and never overrides a value that was set. Load calls it; code
// that builds a Config by hand calls it before Validate.
func (c *Config) SetDefaults() {
	def(&c.Listen, DefaultListen)
	def(&c.Admin.Listen, DefaultAdminListen)

	id := &c.Identity
	if id.Query == "" && id.Header == "" && id.JWT == nil {
		id.Query = DefaultIdentityQuery
	}
	if id.JWT != nil {
		def(&id.JWT.Claim, DefaultJWTClaim)
		def(&id.JWT.Query, DefaultJWTQuery)
	}

	c.Backends.Blue.setDefaults()
	c.Backends.Green.setDefaults()

	def(&c.Routing.Salt, DefaultSalt)

	h := &c.Handover
	def(&h.MovesPerSecond, DefaultMovesPerSecond)
	def(&h.Concurrency, DefaultHandoverConcurrency)
	def(&h.Timeout, DefaultHandoverTimeout)
	def(&h.DrainTimeout, DefaultDrainTimeout)
	def(&h.PrepareTTL, DefaultPrepareTTL)
	def(&h.RetryBackoff, DefaultRetryBackoff)
	def(&h.RetryMaxBackoff, max(DefaultRetryMaxBackoff, h.RetryBackoff))

	e := &c.Edge
	def(&e.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&e.MaxHeaderBytes, DefaultMaxHeaderBytes)
	def(&e.MaxSubscriptions, DefaultMaxSubscriptions)
	def(&e.OutboundQueue.Messages, DefaultQueueMessages)
	def(&e.OutboundQueue.Bytes, DefaultQueueBytes)
	def(&e.Overflow, DefaultOverflow)
	def(&e.PingInterval, DefaultPingInterval)
	def(&e.PingTimeout, DefaultPingTimeout)
	def(&c.Backends.Blue.MaxMessageBytes, e.MaxMessageBytes)
	def(&c.Backends.Green.MaxMessageBytes, e.MaxMessageBytes)

	def(&c.Health.Window, DefaultHealthWindow)
	def(&c.Health.Probe.Interval, DefaultProbeInterval)
	def(&c.Health.Probe.Channel, DefaultProbeChannel)

	c.Rollout.SetDefaults()

	def(&c.Log.Level, DefaultLogLevel)
	def(&c.Log.Format, DefaultLogFormat)
}

func (b *Backend) setDefaults() {
	if b.Protocol == ProtocolSocketIO {
		def(&b.Namespace, DefaultNamespace)
	}
	if b.Protocol == ProtocolLegacy {
		def(&b.PingInterval, DefaultPingInterval)
		def(&b.PingTimeout, DefaultPingTimeout)
	}
	def(&b.DialTimeout, DefaultDialTimeout)
	def(&b.Events.Subscribe, DefaultEventSubscribe)
	def(&b.Events.Unsubscribe, DefaultEventUnsubscribe)
	def(&b.Events.Publish, DefaultEventPublish)
	def(&b.Events.Message, DefaultEventMessage)
}

// SetDefaults fills the plan's zero fields; Config.SetDefaults calls it, and
// the rollout controller calls it on a plan given at start.
func (r *Rollout) SetDefaults() {
	if len(r.Steps) == 0 {
		r.Steps = DefaultSteps()
	}
	def(&r.Hold, DefaultHold)
	def(&r.MinSamples, DefaultMinSamples)
	def(&r.MaxExtensions, DefaultMaxExtensions)

	t := &r.Thresholds
	def(&t.MaxErrorRate, DefaultMaxErrorRate)
	def(&t.MaxP95, DefaultMaxP95)
	def(&t.MinConnectionPreservation, DefaultMinConnectionPreservation)
	def(&t.MinSubscriptionPreservation, DefaultMinSubscriptionPreservation)

	n := &r.NonInferiority
	def(&n.Confidence, DefaultConfidence)
	def(&n.ErrorRateMargin, DefaultErrorRateMargin)
	def(&n.LatencyMargin, DefaultLatencyMargin)

	def(&r.Store.Kind, DefaultStoreKind)
	switch r.Store.Kind {
	case StoreBolt:
		def(&r.Store.Path, DefaultStorePath)
	case StoreRedis:
		def(&r.Store.Prefix, DefaultStorePrefix)
		def(&r.Store.Lease, DefaultStoreLease)
		def(&r.Store.WhenHeld, WhenHeldFail)
	}

	a := &r.Alerts
	def(&a.Timeout, DefaultAlertTimeout)
	def(&a.Retries, DefaultAlertRetries)
	def(&a.Backoff, DefaultAlertBackoff)
	def(&a.ThrottleTimeout, DefaultAlertThrottleTimeout)
	def(&a.OutageTimeout, DefaultAlertOutageTimeout)
	for i := range a.Webhooks {
		if a.Webhooks[i].Kind == WebhookPagerDuty {
			def(&a.Webhooks[i].URL, DefaultPagerDutyURL)
		}
	}
}

// def sets *p to v when *p is the zero value.
func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
