package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// ErrInvalid is matched (errors.Is) by every error Validate returns.
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one problem with one field, named by its YAML path
// ("backends.green.protocol", "rollout.alerts.webhooks[1].url").
type FieldError struct {
	// Line is the line in the file of the field, or of its nearest section
	// when the field is missing; 0 when unknown (e.g. a Config built in code).
	Line int
	// Path is the field's YAML path; empty for a problem with the whole file.
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// problems collects FieldErrors.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks a configuration after SetDefaults and reports every
// problem found, each a *FieldError naming its field, joined with
// errors.Join (nil when the configuration is valid).
func (c *Config) Validate() error {
	var p problems
	p.addr("listen", c.Listen)
	p.addr("admin.listen", c.Admin.Listen)
	if c.Listen != "" && c.Listen == c.Admin.Listen {
		p.add("admin.listen", "must differ from listen (%s)", c.Listen)
	}
	if c.Admin.AdvertiseURL != "" {
		p.advertiseURL("admin.advertise_url", c.Admin.AdvertiseURL)
	}
	p.secret("admin.token", c.Admin.Token, c.Admin.TokenEnv, true)
	if t := c.Admin.BearerToken(); t != strings.TrimSpace(t) {
		// The API trims the token a request presents, as HTTP trims a
		// header's value: one with spaces around it would match nothing.
		// From the environment, a secret mounted with its trailing newline.
		field := "admin.token"
		if c.Admin.TokenEnv != "" && c.Admin.Token == "" {
			field = "admin.token_env"
		}
		p.add(field, "must not begin or end with whitespace")
	}
	c.Identity.validate(&p)
	c.Backends.Blue.validate(&p, "backends.blue", c.Edge.MaxMessageBytes)
	c.Backends.Green.validate(&p, "backends.green", c.Edge.MaxMessageBytes)
	c.Routing.validate(&p)
	c.Handover.validate(&p)
	c.Edge.validate(&p)
	c.Health.validate(&p)
	c.Rollout.validate(&p, "rollout")
	if n := c.ProbeSamplesPerWindow(); c.probeRuns() && c.Rollout.MinSamples > n {
		fix := "lower it, or shorten health.probe.interval"
		if n == 0 {
			fix = "lengthen health.window"
		}
		p.add("rollout.min_samples", "%d latency samples can never gather: the gates read the probe's, and it makes %d per health.window (%v every %v); %s",
			c.Rollout.MinSamples, n, c.Health.Window, c.Health.Probe.Interval, fix)
	} else if n := StepProbes(c.Rollout.Hold, c.Rollout.Extensions(), c.Health.Probe.Interval); c.probeRuns() && c.Rollout.Hold > 0 && c.Rollout.MinSamples > n {
		p.add("rollout.min_samples", "%d latency samples can never gather: a step's gates read the probe's since the step began, and it makes %d over a step's hold and extensions (%v × %d, one every %v); lower it, lengthen rollout.hold or raise rollout.max_extensions",
			c.Rollout.MinSamples, n, c.Rollout.Hold, 1+c.Rollout.Extensions(), c.Health.Probe.Interval)
	}
	p.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	p.oneOf("log.format", c.Log.Format, "text", "json")
	return errors.Join(p...)
}

// ProbeSamplesPerWindow is how many latency samples the probe gives the
// gates over one health window, the most every gate can count (a step
// whose hold and extensions are shorter gives its gates less: see
// StepProbes); 0 when the probe is off (the gates then read client
// requests, without such a bound) or the health settings are not filled
// in. The window is the
// current second, partly gone, and the ones before it: a gate taken at
// any moment sees only the whole seconds for sure.
//
// The health package rounds the window up to whole seconds, so a window of
// W holds ⌈W⌉ − 1 whole seconds besides the current one: none for 1s (then
// no gate can count on a single probe, and the result is 0 although the
// probe runs), one for 1.1s.
func (c *Config) ProbeSamplesPerWindow() int {
	if !c.probeRuns() {
		return 0
	}
	h := c.Health
	whole := (h.Window - 1) / time.Second * time.Second
	return int(whole / h.Probe.Interval)
}

// StepProbes is how many probes, one every interval, a rollout step
// surely gives its gates when it holds hold and may be extended
// extensions times: each gate reads the samples recorded since its step
// began, and the step's last gate comes hold × (1 + extensions) after
// that at the earliest. The gates read one health window at most, so
// ProbeSamplesPerWindow bounds them as well. 0 for a hold or an interval
// that is not positive.
func StepProbes(hold time.Duration, extensions int, interval time.Duration) int {
	if hold <= 0 || interval <= 0 {
		return 0
	}
	k := int64(1 + max(extensions, 0))
	if int64(hold) > math.MaxInt64/k {
		return math.MaxInt32 // longer than any window
	}
	return int(min(int64(hold)*k/int64(interval), math.MaxInt32))
}

// probeRuns reports whether the probe gives the gates their latencies:
// it is on and the health settings are filled in.
func (c *Config) probeRuns() bool {
	h := c.Health
	return !h.Probe.Disabled && h.Probe.Interval > 0 && h.Window > 0
}

// Validate checks a plan after SetDefaults, e.g. one given when a rollout is
// started; paths start with "rollout.".
func (r *Rollout) Validate() error {
	var p problems
	r.validate(&p, "rollout")
	return errors.Join(p...)
}

func (p *problems) addr(field, addr string) {
	// An empty host means every interface, which net.Listen accepts.
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(field, "must be host:port, got %q", addr)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		p.add(field, "port must be a number 0-65535, got %q", port)
	}
}

// secret checks a value that may come from the file or from an environment
// variable: at most one source, and (when required) a non-empty value.
func (p *problems) secret(field, value, env string, required bool) {
	switch {
	case value != "" && env != "":
		p.add(field, "set either %s or %s_env, not both", lastPart(field), lastPart(field))
	case env != "" && os.Getenv(env) == "":
		p.add(field+"_env", "environment variable %s is empty or unset", env)
	case required && value == "" && env == "":
		p.add(field, "required (or %s_env naming an environment variable)", lastPart(field))
	}
}

func lastPart(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

func (p *problems) oneOf(field, got string, allowed ...string) {
	if slices.Contains(allowed, got) {
		return
	}
	if got == "" { // not set, and no default
		list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
		p.add(field, "required (%s)", list)
		return
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	want := strings.Join(quoted, " or ")
	if len(quoted) > 2 {
		want = "one of " + strings.Join(quoted, ", ")
	}
	p.add(field, "must be %s, got %q", want, got)
}

func (p *problems) positive(field string, v int) {
	if v <= 0 {
		p.add(field, "must be positive, got %d", v)
	}
}

func (p *problems) positiveDuration(field string, d time.Duration) {
	if d <= 0 {
		p.add(field, "must be a positive duration like \"5s\", got %v", d)
	}
}

// fraction checks a share in (0, 1].
func (p *problems) fraction(field string, v float64) {
	if math.IsNaN(v) || v <= 0 || v > 1 {
		p.add(field, "must be a fraction in (0, 1], got %v", v)
	}
}

func (s *Store) validate(p *problems, at string) {
	p.oneOf(at+".kind", s.Kind, StoreBolt, StoreRedis, StoreMemory)
	switch {
	case s.Kind == StoreBolt && s.Path == "":
		p.add(at+".path", "required for a bolt store")
	case s.Kind != StoreBolt && s.Path != "":
		p.add(at+".path", "only a bolt store has a path")
	}
	if s.Kind != StoreRedis {
		for _, f := range []struct {
			name string
			set  bool
		}{{"url", s.URL != ""}, {"url_env", s.URLEnv != ""}, {"prefix", s.Prefix != ""}, {"lease", s.Lease != 0}, {"when_held", s.WhenHeld != ""}} {
			if f.set {
				p.add(at+"."+f.name, "only a redis store has a %s", f.name)
			}
		}
		return
	}
	p.secret(at+".url", s.URL, s.URLEnv, true)
	if raw := s.RedisURL(); raw != "" {
		field := at + ".url"
		if s.URL == "" {
			field += "_env"
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			// The value stays out: it may hold a password.
			p.add(field, "must be redis://[user:password@]host:port[/db] or rediss://... (the value is not shown: it may hold a secret)")
		}
	}
	if strings.ContainsAny(s.Prefix, "{}") {
		p.add(at+".prefix", "must not contain '{' or '}' (the store's keys share a Redis Cluster hash tag), got %q", s.Prefix)
	}
	p.oneOf(at+".when_held", s.WhenHeld, WhenHeldFail, WhenHeldStandby, WhenHeldFollow)
	if s.Lease < time.Second {
		p.add(at+".lease", "must be at least 1s (it is renewed every third of it), got %v", s.Lease)
	}
}

// httpURL checks a webhook URL. The value stays out of the message: a
// Slack URL's path is its credential, and the message is printed and
// logged at startup.
func (p *problems) httpURL(field, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(field, "must be an absolute http or https URL (the value is not shown: it may hold a secret)")
	}
}

// advertiseURL checks the admin API's URL handed to operators by the
// other gateways: one the CLI's --admin takes as it is. It is written
// into the lease owner's name, which a space would split (the lease's
// token follows the last one), and shown to every gateway's operators
// and logs, where a password does not belong.
func (p *problems) advertiseURL(field, raw string) {
	u, err := url.Parse(raw)
	switch {
	// The scheme in lower case: the CLI and the other gateways look for
	// "http://" or "https://" as written.
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.HasPrefix(raw, u.Scheme+"://") || u.Hostname() == "":
		p.add(field, "must be an absolute http or https URL such as https://gw-2.internal:9090, got %q", raw)
	case strings.ContainsAny(raw, "?#"):
		p.add(field, "must have no query or fragment (the CLI appends the API's paths to it), got %q", raw)
	case u.User != nil:
		p.add(field, "must not hold a user or password: it is shown to the operators of every gateway")
	case strings.ContainsFunc(raw, unicode.IsSpace):
		p.add(field, "must not contain whitespace, got %q", raw)
	}
}

// headerToken reports whether s is a valid HTTP header name (RFC 9110 token).
func headerToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func (id *Identity) validate(p *problems) {
	if id.Header != "" && !headerToken(id.Header) {
		p.add("identity.header", "not a valid HTTP header name: %q", id.Header)
	}
	j := id.JWT
	if j == nil {
		return
	}
	if id.Query != "" || id.Header != "" {
		p.add("identity.jwt", "cannot be combined with identity.query or identity.header: an unauthenticated source would let a client choose its user key")
	}
	if j.Claim == "" {
		p.add("identity.jwt.claim", "required")
	}
	if j.Query == "" {
		p.add("identity.jwt.query", "required")
	}
	sources := 0
	for _, s := range []string{j.HS256Secret, j.HS256SecretEnv, j.RS256PublicKeyFile} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		p.add("identity.jwt", "set exactly one of hs256_secret, hs256_secret_env, rs256_public_key_file (got %d)", sources)
		return
	}
	p.secret("identity.jwt.hs256_secret", j.HS256Secret, j.HS256SecretEnv, false)
	if f := j.RS256PublicKeyFile; f != "" {
		pem, err := readKeyFile(f)
		if err != nil {
			p.add("identity.jwt.rs256_public_key_file", "%v", err)
		} else if _, err := jwt.ParseRSAPublicKeyFromPEM(pem); err != nil {
			p.add("identity.jwt.rs256_public_key_file", "%s: not a PEM RSA public key: %v", f, err)
		}
	}
}

// maxKeyFile bounds what Validate reads of a key file: a PEM RSA public key
// is a few KB, and a path like /dev/zero must not exhaust memory.
const maxKeyFile = 64 << 10

func readKeyFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a public key", name, maxKeyFile)
	}
	return data, nil
}

// socketIOReserved are event names the Socket.IO protocol keeps for itself;
// emitting them is an error in the official client and server.
var socketIOReserved = []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// legacyFrameTypes are the legacy protocol's frame types (legacy.Known). A
// legacy backend's operation may take none but its own: its deliveries
// ("message") would be decoded as frames of that type (an ack, error, pong
// or request needs an id, a welcome a session), so every delivery would end
// the connection, and the backend's own answers would be taken for
// deliveries; and the gateway writes its subscribe, unsubscribe and publish
// as frames of their names, which a backend that follows the protocol
// refuses (a server-only type is bad_request from a client) or takes for
// another request (a ping is answered by a pong, not an ack).
var legacyFrameTypes = []string{"subscribe", "unsubscribe", "publish", "ping", "welcome", "ack", "message", "pong", "error"}

// edgeMax is edge.max_message_bytes, which a backend's limit left out
// takes: a bad one is reported on the edge's field, not again here.
func (b *Backend) validate(p *problems, at string, edgeMax int) {
	p.oneOf(at+".protocol", string(b.Protocol), string(ProtocolLegacy), string(ProtocolSocketIO))
	u, err := url.Parse(b.URL)
	switch {
	case b.URL == "":
		p.add(at+".url", "required")
	case err != nil || u.Host == "":
		example := "ws://host:port/path"
		if b.Protocol == ProtocolSocketIO {
			example = "http://host:port/socket.io/"
		}
		p.add(at+".url", "must be an absolute URL like %s, got %q", example, b.URL)
	case b.Protocol == ProtocolLegacy && u.Scheme != "ws" && u.Scheme != "wss":
		p.add(at+".url", "a legacy backend needs a ws or wss URL, got scheme %q", u.Scheme)
	case b.Protocol == ProtocolSocketIO && !slices.Contains([]string{"http", "https", "ws", "wss"}, u.Scheme):
		p.add(at+".url", "a socketio backend needs an http, https, ws or wss URL, got scheme %q", u.Scheme)
	}
	switch {
	case b.Protocol == ProtocolLegacy && b.Namespace != "":
		p.add(at+".namespace", "only for socketio backends")
	case b.Protocol == ProtocolSocketIO && !strings.HasPrefix(b.Namespace, "/"):
		p.add(at+".namespace", "must start with \"/\", got %q", b.Namespace)
	}
	p.positiveDuration(at+".dial_timeout", b.DialTimeout)
	if b.MaxMessageBytes != edgeMax {
		p.positive(at+".max_message_bytes", b.MaxMessageBytes)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"ping_interval", b.PingInterval}, {"ping_timeout", b.PingTimeout}} {
		switch {
		case b.Protocol == ProtocolLegacy:
			p.positiveDuration(at+"."+d.field, d.v)
		case b.Protocol == ProtocolSocketIO && d.v != 0:
			p.add(at+"."+d.field, "only for legacy backends (a socketio backend's heartbeat is Engine.IO's)")
		}
	}

	// Each field's name is also its reference name (DefaultEvent*).
	names := []struct{ field, name string }{
		{DefaultEventSubscribe, b.Events.Subscribe},
		{DefaultEventUnsubscribe, b.Events.Unsubscribe},
		{DefaultEventPublish, b.Events.Publish},
		{DefaultEventMessage, b.Events.Message},
	}
	seen := make(map[string]string)
	for _, n := range names {
		field := at + ".events." + n.field
		switch {
		case n.name == "":
			p.add(field, "required")
		case b.Protocol == ProtocolSocketIO && slices.Contains(socketIOReserved, n.name):
			p.add(field, "%q is reserved by Socket.IO", n.name)
		case seen[n.name] != "":
			p.add(field, "%q is already used by events.%s", n.name, seen[n.name])
		case b.Protocol == ProtocolLegacy && n.name != n.field && slices.Contains(legacyFrameTypes, n.name):
			if n.field == DefaultEventMessage {
				p.add(field, "%q is a legacy frame type: the backend's deliveries would be read as that type", n.name)
			} else {
				p.add(field, "%q is a legacy frame type: the backend would refuse the gateway's %s frames or read them as that type", n.name, n.field)
			}
		default:
			seen[n.name] = n.field
		}
	}
}

func (r *Routing) validate(p *problems) {
	if _, err := router.FromPercent(r.Weight); err != nil {
		p.add("routing.weight", "must be a percentage from 0 to 100 with at most two decimals, got %v", r.Weight)
	}
	if r.Salt == "" {
		p.add("routing.salt", "required")
	}
	for i, k := range r.Allow {
		if k == "" {
			p.add(fmt.Sprintf("routing.allow[%d]", i), "empty user key")
		}
	}
	for i, k := range r.Deny {
		if k == "" {
			p.add(fmt.Sprintf("routing.deny[%d]", i), "empty user key")
		}
	}
}

// Table returns the routing table this configuration starts with.
func (r *Routing) Table() (*router.Table, error) {
	w, err := router.FromPercent(r.Weight)
	if err != nil {
		return nil, fmt.Errorf("routing.weight: %w", err)
	}
	return router.NewTable(r.Salt, w, r.Allow, r.Deny)
}

func (h *Handover) validate(p *problems) {
	p.positive("handover.moves_per_second", h.MovesPerSecond)
	p.positive("handover.concurrency", h.Concurrency)
	p.positiveDuration("handover.timeout", h.Timeout)
	p.positiveDuration("handover.drain_timeout", h.DrainTimeout)
	p.positiveDuration("handover.prepare_ttl", h.PrepareTTL)
	p.positiveDuration("handover.retry_backoff", h.RetryBackoff)
	p.positiveDuration("handover.retry_max_backoff", h.RetryMaxBackoff)
	if h.RetryBackoff > 0 && h.RetryMaxBackoff > 0 && h.RetryMaxBackoff < h.RetryBackoff {
		p.add("handover.retry_max_backoff", "must be at least handover.retry_backoff (%v), got %v", h.RetryBackoff, h.RetryMaxBackoff)
	}
}

func (e *Edge) validate(p *problems) {
	p.positive("edge.max_message_bytes", e.MaxMessageBytes)
	p.positive("edge.max_header_bytes", e.MaxHeaderBytes)
	p.positive("edge.max_subscriptions", e.MaxSubscriptions)
	p.positive("edge.outbound_queue.messages", e.OutboundQueue.Messages)
	p.positive("edge.outbound_queue.bytes", e.OutboundQueue.Bytes)
	if e.OutboundQueue.Bytes > 0 && e.MaxMessageBytes > e.OutboundQueue.Bytes {
		p.add("edge.outbound_queue.bytes", "must be at least edge.max_message_bytes (%d), got %d", e.MaxMessageBytes, e.OutboundQueue.Bytes)
	}
	p.oneOf("edge.overflow", e.Overflow, OverflowDisconnect, OverflowDropNewest)
	p.positiveDuration("edge.ping_interval", e.PingInterval)
	p.positiveDuration("edge.ping_timeout", e.PingTimeout)
	for i, pat := range e.OriginPatterns {
		if _, err := path.Match(pat, ""); err != nil || pat == "" {
			p.add(fmt.Sprintf("edge.origin_patterns[%d]", i), "not a valid pattern: %q", pat)
		}
	}
}

func (h *Health) validate(p *problems) {
	p.positiveDuration("health.window", h.Window)
	if h.Window > health.MaxWindow {
		p.add("health.window", "must be at most %v, got %v", health.MaxWindow, h.Window)
	}
	p.positiveDuration("health.probe.interval", h.Probe.Interval)
	if h.Probe.Interval > 0 && h.Probe.Interval >= h.Window {
		p.add("health.probe.interval", "must be shorter than health.window (%v), got %v", h.Window, h.Probe.Interval)
	}
	if h.Probe.Channel == "" {
		p.add("health.probe.channel", "required")
	}
}

func (r *Rollout) validate(p *problems, at string) {
	prev := 0.0
	for i, s := range r.Steps {
		field := fmt.Sprintf("%s.steps[%d]", at, i)
		w, err := router.FromPercent(s)
		switch {
		case err != nil || w == 0:
			p.add(field, "must be a percentage in (0, 100] with at most two decimals, got %v", s)
		case s <= prev:
			p.add(field, "steps must increase, got %v after %v", s, prev)
		}
		prev = s
	}
	if n := len(r.Steps); n == 0 {
		p.add(at+".steps", "required")
	} else if r.Steps[n-1] != 100 {
		p.add(at+".steps", "the last step must be 100, got %v", r.Steps[n-1])
	}
	p.positiveDuration(at+".hold", r.Hold)
	if r.MinSessions < 0 {
		p.add(at+".min_sessions", "must not be negative, got %d", r.MinSessions)
	}
	p.positive(at+".min_samples", r.MinSamples)

	t := r.Thresholds
	p.fraction(at+".thresholds.max_error_rate", t.MaxErrorRate)
	p.positiveDuration(at+".thresholds.max_p95", t.MaxP95)
	if t.MaxP99 < 0 {
		p.add(at+".thresholds.max_p99", "must not be negative, got %v", t.MaxP99)
	} else if t.MaxP99 > 0 && t.MaxP99 < t.MaxP95 {
		p.add(at+".thresholds.max_p99", "must be at least max_p95 (%v), got %v", t.MaxP95, t.MaxP99)
	}
	p.fraction(at+".thresholds.min_connection_preservation", t.MinConnectionPreservation)
	p.fraction(at+".thresholds.min_subscription_preservation", t.MinSubscriptionPreservation)

	n := r.NonInferiority
	if math.IsNaN(n.Confidence) || n.Confidence <= 0.5 || n.Confidence >= 1 {
		p.add(at+".non_inferiority.confidence", "must be between 0.5 and 1 exclusive, got %v", n.Confidence)
	}
	p.fraction(at+".non_inferiority.error_rate_margin", n.ErrorRateMargin)
	p.positiveDuration(at+".non_inferiority.latency_margin", n.LatencyMargin)

	r.Store.validate(p, at+".store")

	a := r.Alerts
	p.positiveDuration(at+".alerts.timeout", a.Timeout)
	p.positiveDuration(at+".alerts.backoff", a.Backoff)
	p.positiveDuration(at+".alerts.throttle_timeout", a.ThrottleTimeout)
	p.positiveDuration(at+".alerts.outage_timeout", a.OutageTimeout)
	for i, w := range a.Webhooks {
		wa := fmt.Sprintf("%s.alerts.webhooks[%d]", at, i)
		p.oneOf(wa+".kind", w.Kind, WebhookGeneric, WebhookSlack, WebhookPagerDuty)
		if w.URL == "" {
			p.add(wa+".url", "required")
		} else {
			p.httpURL(wa+".url", w.URL)
		}
		if w.Kind == WebhookPagerDuty {
			p.secret(wa+".routing_key", w.RoutingKey, w.RoutingKeyEnv, true)
		} else if w.RoutingKey != "" {
			p.add(wa+".routing_key", "only for pagerduty webhooks")
		} else if w.RoutingKeyEnv != "" {
			p.add(wa+".routing_key_env", "only for pagerduty webhooks")
		}
	}
}
