package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

// minimal is the shape fixed by the gateway issue; everything else defaults.
const minimal = `
listen: 127.0.0.1:8080
admin:
  listen: 127.0.0.1:9090
  token: change-me
identity:
  query: user
backends:
  blue:  { url: ws://127.0.0.1:8081/ws,          protocol: legacy }
  green: { url: http://127.0.0.1:8082/socket.io/, protocol: socketio }
routing:
  weight: 0
  salt: baton
`

const examplePath = "../../examples/gateway.yaml"

func mustParse(t *testing.T, yml string) *Config {
	t.Helper()
	c, err := Parse([]byte(yml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestExampleLoads(t *testing.T) {
	c, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if c.Backends.Green.Protocol != ProtocolSocketIO || c.Backends.Blue.URL != "ws://127.0.0.1:8081/ws" ||
		c.Admin.BearerToken() != "change-me" || c.Identity.Query != "user" {
		t.Fatalf("example decoded wrong: %+v", c)
	}
	// Every value the example shows is the default, so it must equal the
	// minimal configuration once defaults are applied: the example cannot
	// drift from the code without this test noticing.
	for _, s := range []*[]string{&c.Routing.Allow, &c.Routing.Deny, &c.Edge.OriginPatterns} {
		if len(*s) == 0 {
			*s = nil
		}
	}
	if len(c.Rollout.Alerts.Webhooks) == 0 {
		c.Rollout.Alerts.Webhooks = nil
	}
	// The one value the example sets that is no default: the backends'
	// limit, the reference services' (their --max-message-bytes).
	for _, b := range []*Backend{&c.Backends.Blue, &c.Backends.Green} {
		if b.MaxMessageBytes != 64<<10 {
			t.Errorf("example's max_message_bytes %d, want the reference services' %d", b.MaxMessageBytes, 64<<10)
		}
		b.MaxMessageBytes = c.Edge.MaxMessageBytes
	}
	if want := mustParse(t, minimal); !reflect.DeepEqual(c, want) {
		t.Fatalf("example differs from defaults:\nexample  %+v\ndefaults %+v", c, want)
	}
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	checks := []struct {
		name      string
		got, want any
	}{
		{"handover.moves_per_second", c.Handover.MovesPerSecond, DefaultMovesPerSecond},
		{"handover.drain_timeout", c.Handover.DrainTimeout, 5 * time.Second},
		{"handover.retry_backoff", c.Handover.RetryBackoff, time.Second},
		{"handover.retry_max_backoff", c.Handover.RetryMaxBackoff, 30 * time.Second},
		{"handover.retry_max_backoff after a longer retry_backoff", mustParse(t, minimal+"handover: {retry_backoff: 1m}\n").Handover.RetryMaxBackoff, time.Minute},
		{"edge.overflow", c.Edge.Overflow, OverflowDisconnect},
		{"edge.outbound_queue.messages", c.Edge.OutboundQueue.Messages, 1024},
		{"backends.green.namespace", c.Backends.Green.Namespace, "/"},
		{"backends.blue.namespace", c.Backends.Blue.Namespace, ""},
		{"backends.blue.ping_interval", c.Backends.Blue.PingInterval, 25 * time.Second},
		{"backends.blue.ping_timeout", c.Backends.Blue.PingTimeout, 20 * time.Second},
		{"backends.green.ping_interval", c.Backends.Green.PingInterval, time.Duration(0)},
		{"backends.blue.events.message", c.Backends.Blue.Events.Message, "message"},
		{"backends.blue.max_message_bytes", c.Backends.Blue.MaxMessageBytes, DefaultMaxMessageBytes},
		{"backends.green.max_message_bytes", c.Backends.Green.MaxMessageBytes, DefaultMaxMessageBytes},
		{"backends.green.max_message_bytes after edge's", mustParse(t, minimal+"edge: {max_message_bytes: 2097152, outbound_queue: {bytes: 8388608}}\n").Backends.Green.MaxMessageBytes, 2 << 20},
		{"rollout.steps", c.Rollout.Steps, []float64{10, 25, 50, 75, 100}},
		{"rollout.hold", c.Rollout.Hold, 30 * time.Second},
		{"rollout.thresholds.max_error_rate", c.Rollout.Thresholds.MaxErrorRate, 0.01},
		{"rollout.thresholds.max_p95", c.Rollout.Thresholds.MaxP95, 500 * time.Millisecond},
		{"rollout.thresholds.max_p99", c.Rollout.Thresholds.MaxP99, time.Duration(0)},
		{"rollout.thresholds.min_connection_preservation", c.Rollout.Thresholds.MinConnectionPreservation, 0.999},
		{"rollout.store", c.Rollout.Store, Store{Kind: "bolt", Path: "baton.db"}},
		{"rollout.store of kind redis", mustParse(t, minimal+"rollout: {store: {kind: redis, url: 'redis://h:6379/2'}}\n").Rollout.Store,
			Store{Kind: "redis", URL: "redis://h:6379/2", Prefix: "baton:store:", Lease: 15 * time.Second, WhenHeld: "fail"}},
		{"rollout.max_extensions", c.Rollout.Extensions(), 3},
		{"rollout.alerts.outage_timeout", c.Rollout.Alerts.OutageTimeout, 10 * time.Minute},
		{"rollout.alerts.throttle_timeout", c.Rollout.Alerts.ThrottleTimeout, 10 * time.Minute},
		{"log.format", c.Log.Format, "text"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}

	// Set values survive, and SetDefaults is idempotent.
	c = mustParse(t, minimal+"handover: {concurrency: 7}\nrollout: {steps: [50, 100], max_extensions: -1, min_samples: 150, store: {kind: memory}}\n")
	before := *c
	c.SetDefaults()
	if !reflect.DeepEqual(*c, before) {
		t.Fatal("second SetDefaults changed the configuration")
	}
	if c.Handover.Concurrency != 7 || !reflect.DeepEqual(c.Rollout.Steps, []float64{50, 100}) ||
		c.Rollout.Extensions() != 0 || c.Rollout.Store.Path != "" {
		t.Fatalf("set values lost: %+v %+v", c.Handover, c.Rollout)
	}
}

func TestIdentityDefault(t *testing.T) {
	c := mustParse(t, strings.Replace(minimal, "  query: user\n", "  header: X-User\n", 1))
	if c.Identity.Query != "" || c.Identity.Header != "X-User" {
		t.Fatalf("header-only identity got query %q", c.Identity.Query)
	}
	c = mustParse(t, strings.Replace(minimal, "identity:\n  query: user\n", "", 1))
	if c.Identity.Query != "user" {
		t.Fatalf("no identity source: query %q, want user", c.Identity.Query)
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	for _, tc := range []struct{ yml, path, known string }{
		{strings.Replace(minimal, "  token: change-me\n", "  token: change-me\n  tokn: oops\n", 1), "admin.tokn", "token_env"},
		{minimal + "bogus: 1\n", "bogus", "rollout"},
		{minimal + "rollout:\n  thresholds:\n    max_p96: 1s\n", "rollout.thresholds.max_p96", "max_p95"},
		{minimal + "rollout:\n  alerts:\n    webhooks:\n      - kind: slack\n        uri: x\n", "rollout.alerts.webhooks[0].uri", "url"},
	} {
		_, err := Parse([]byte(tc.yml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != tc.path || fe.Line != strings.Count(tc.yml[:strings.LastIndex(tc.yml, lastKey(tc.path))], "\n")+1 {
			t.Errorf("want an unknown-field error for %s on its line, got %v", tc.path, err)
			continue
		}
		if !strings.Contains(fe.Msg, "unknown field") || !strings.Contains(fe.Msg, tc.known) {
			t.Errorf("%s: message %q should say unknown and list %q", tc.path, fe.Msg, tc.known)
		}
	}
}

// lastKey is the final key of a YAML path ("a.b[0].c" → "c").
func lastKey(path string) string {
	return path[strings.LastIndexAny(path, ".]")+1:]
}

// Each bad configuration must be refused with a FieldError naming exactly the
// offending field.
func TestValidateNamesTheField(t *testing.T) {
	cases := []struct {
		path string
		yml  string // appended to minimal, or replacing it when it has "listen:"
		msg  string
	}{
		{"backends.green.protocol", strings.Replace(minimal, "protocol: socketio", "protocol: grpc", 1),
			`backends.green.protocol: must be "legacy" or "socketio", got "grpc"`},
		{"backends.blue.url", strings.Replace(minimal, "ws://127.0.0.1:8081/ws", "http://127.0.0.1:8081/ws", 1), "ws or wss"},
		{"backends.green.url", strings.Replace(minimal, "http://127.0.0.1:8082/socket.io/", "", 1), "required"},
		{"backends.green.url", strings.Replace(minimal, "http://127.0.0.1:8082/socket.io/", "/socket.io/", 1), "absolute"},
		{"backends.blue.namespace", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, namespace: /x", 1), "only for socketio"},
		{"backends.green.namespace", strings.Replace(minimal, "protocol: socketio", "protocol: socketio, namespace: chat", 1), "start with"},
		{"backends.green.events.message", strings.Replace(minimal, "protocol: socketio", "protocol: socketio, events: {message: disconnect}", 1), "reserved"},
		{"backends.blue.events.publish", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {publish: subscribe}", 1), "already used"},
		{"backends.blue.events.message", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {message: ack}", 1), "legacy frame type"},
		{"backends.blue.events.message", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {message: ping}", 1), "legacy frame type"},
		// The gateway writes the three operations as frames of their names:
		// a server-only type (or another request's) is refused by a backend
		// that follows the protocol.
		{"backends.blue.events.subscribe", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {subscribe: ack}", 1), "legacy frame type"},
		{"backends.blue.events.subscribe", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {subscribe: message, message: deliver}", 1), "legacy frame type"},
		{"backends.blue.events.unsubscribe", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {unsubscribe: error}", 1), "legacy frame type"},
		{"backends.blue.events.publish", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {publish: welcome}", 1), "legacy frame type"},
		{"backends.blue.events.publish", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {publish: pong}", 1), "legacy frame type"},
		{"backends.blue.events.subscribe", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {subscribe: ping}", 1), "legacy frame type"},
		{"backends.blue.events.unsubscribe", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {unsubscribe: publish, publish: send}", 1), "legacy frame type"},
		{"backends.blue.dial_timeout", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, dial_timeout: -1s", 1), "positive"},
		{"backends.blue.ping_interval", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, ping_interval: -1s", 1), "positive"},
		{"backends.blue.ping_timeout", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, ping_timeout: -1s", 1), "positive"},
		{"backends.blue.max_message_bytes", strings.Replace(minimal, "protocol: legacy", "protocol: legacy, max_message_bytes: -1", 1), "must be positive, got -1"},
		{"backends.green.max_message_bytes", strings.Replace(minimal, "protocol: socketio", "protocol: socketio, max_message_bytes: -65536", 1), "positive"},
		{"backends.green.ping_timeout", strings.Replace(minimal, "protocol: socketio", "protocol: socketio, ping_timeout: 5s", 1), "only for legacy"},
		{"admin.token", strings.Replace(minimal, "  token: change-me\n", "", 1), "required"},
		{"admin.token", strings.Replace(minimal, "  token: change-me\n", "  token: a\n  token_env: B\n", 1), "not both"},
		{"admin.token_env", strings.Replace(minimal, "  token: change-me\n", "  token_env: BATON_TEST_SURELY_UNSET\n", 1), "empty or unset"},
		{"admin.token", strings.Replace(minimal, "  token: change-me\n", "  token: \" change-me\"\n", 1), "whitespace"},
		{"admin.listen", strings.Replace(minimal, "127.0.0.1:9090", "127.0.0.1:8080", 1), "must differ"},
		{"admin.listen", strings.Replace(minimal, "127.0.0.1:9090", "localhost", 1), "host:port"},
		{"listen", strings.Replace(minimal, "listen: 127.0.0.1:8080", "listen: 127.0.0.1:http", 1), "port"},
		{"routing.weight", strings.Replace(minimal, "weight: 0", "weight: 150", 1), "0 to 100"},
		{"routing.weight", strings.Replace(minimal, "weight: 0", "weight: -1", 1), "0 to 100"},
		{"routing.weight", strings.Replace(minimal, "weight: 0", "weight: 12.345", 1), "two decimals"},
		{"routing.allow[1]", minimal[:len(minimal)-1] + "\n  allow: [a, '']\n", "empty user key"},
		{"identity.header", strings.Replace(minimal, "query: user", "header: 'X User'", 1), "header name"},
		{"identity.jwt", strings.Replace(minimal, "query: user", "query: user\n  jwt: {hs256_secret: s}", 1), "cannot be combined"},
		{"identity.jwt", strings.Replace(minimal, "query: user", "jwt: {claim: uid}", 1), "exactly one"},
		{"identity.jwt", strings.Replace(minimal, "query: user", "jwt: {hs256_secret: s, rs256_public_key_file: k.pem}", 1), "exactly one"},
		{"identity.jwt.rs256_public_key_file", strings.Replace(minimal, "query: user", "jwt: {rs256_public_key_file: /nonexistent/k.pem}", 1), "no such file"},
		{"identity.jwt.rs256_public_key_file", strings.Replace(minimal, "query: user", "jwt: {rs256_public_key_file: /dev/zero}", 1), "not a regular file"},
		{"identity.jwt.hs256_secret_env", strings.Replace(minimal, "query: user", "jwt: {hs256_secret_env: BATON_TEST_SURELY_UNSET}", 1), "empty or unset"},
		{"handover.concurrency", minimal + "handover: {concurrency: -3}\n", "positive"},
		{"handover.drain_timeout", minimal + "handover: {drain_timeout: -1s}\n", "positive"},
		{"handover.retry_backoff", minimal + "handover: {retry_backoff: -1s}\n", "positive"},
		{"handover.retry_max_backoff", minimal + "handover: {retry_max_backoff: -1s}\n", "positive"},
		{"handover.retry_max_backoff", minimal + "handover: {retry_backoff: 10s, retry_max_backoff: 5s}\n", "at least handover.retry_backoff (10s), got 5s"},
		{"edge.overflow", minimal + "edge: {overflow: drop_oldest}\n", `must be "disconnect" or "drop_newest", got "drop_oldest"`},
		{"edge.outbound_queue.bytes", minimal + "edge: {outbound_queue: {bytes: 1000}}\n", "at least edge.max_message_bytes"},
		{"edge.max_subscriptions", minimal + "edge: {max_subscriptions: -1}\n", "positive"},
		{"edge.max_header_bytes", minimal + "edge: {max_header_bytes: -1}\n", "positive"},
		{"edge.origin_patterns[0]", minimal + "edge: {origin_patterns: ['[']}\n", "pattern"},
		{"health.probe.interval", minimal + "health: {window: 1s, probe: {interval: 2s}}\n", "shorter than health.window"},
		{"health.window", minimal + "health: {window: 2h}\n", "at most 1h0m0s"},
		{"rollout.steps[1]", minimal + "rollout: {steps: [50, 25, 100]}\n", "increase"},
		{"rollout.steps[0]", minimal + "rollout: {steps: [0, 100]}\n", "(0, 100]"},
		{"rollout.steps[1]", minimal + "rollout: {steps: [50, 101]}\n", "(0, 100]"},
		{"rollout.steps", minimal + "rollout: {steps: [10, 50]}\n", "last step must be 100"},
		{"rollout.hold", minimal + "rollout: {hold: -5s}\n", "positive"},
		// The probe gives 60s / 200ms = 300 latency samples per window.
		{"rollout.min_samples", minimal + "rollout: {min_samples: 591}\n", "can never gather"},
		{"rollout.min_sessions", minimal + "rollout: {min_sessions: -1}\n", "negative"},
		{"rollout.thresholds.max_error_rate", minimal + "rollout: {thresholds: {max_error_rate: 1.5}}\n", "fraction"},
		{"rollout.thresholds.max_p99", minimal + "rollout: {thresholds: {max_p99: 100ms}}\n", "at least max_p95"},
		{"rollout.thresholds.min_connection_preservation", minimal + "rollout: {thresholds: {min_connection_preservation: 2}}\n", "fraction"},
		{"rollout.non_inferiority.confidence", minimal + "rollout: {non_inferiority: {confidence: 1}}\n", "exclusive"},
		{"rollout.non_inferiority.latency_margin", minimal + "rollout: {non_inferiority: {latency_margin: -1ms}}\n", "positive"},
		{"rollout.store.kind", minimal + "rollout: {store: {kind: etcd}}\n", `one of "bolt", "redis", "memory"`},
		{"rollout.store.path", minimal + "rollout: {store: {kind: memory, path: x.db}}\n", "only a bolt store has a path"},
		{"rollout.store.url", minimal + "rollout: {store: {kind: redis}}\n", "required"},
		{"rollout.store.url", minimal + "rollout: {store: {kind: redis, url: 'http://user:hunter2@h:6379'}}\n", "redis://"},
		{"rollout.store.url", minimal + "rollout: {store: {url: 'redis://h:6379'}}\n", "only a redis store"},
		{"rollout.store.url_env", minimal + "rollout: {store: {kind: redis, url_env: BATON_TEST_UNSET_STORE_URL}}\n", "empty or unset"},
		{"rollout.store.prefix", minimal + "rollout: {store: {kind: redis, url: 'redis://h:6379', prefix: 'a{b}:'}}\n", "hash tag"},
		{"rollout.store.lease", minimal + "rollout: {store: {kind: redis, url: 'redis://h:6379', lease: 500ms}}\n", "at least 1s"},
		{"rollout.store.lease", minimal + "rollout: {store: {kind: bolt, lease: 5s}}\n", "only a redis store"},
		{"rollout.store.when_held", minimal + "rollout: {store: {kind: memory, when_held: follow}}\n", "only a redis store"},
		{"rollout.store.when_held", minimal + "rollout: {store: {kind: redis, url: 'redis://h:6379', when_held: wait}}\n", `one of "fail", "standby", "follow"`},
		{"rollout.alerts.outage_timeout", minimal + "rollout: {alerts: {outage_timeout: -1m}}\n", "positive"},
		{"rollout.alerts.webhooks[0].kind", minimal + "rollout: {alerts: {webhooks: [{kind: email, url: 'https://x'}]}}\n", "one of"},
		{"rollout.alerts.webhooks[0].url", minimal + "rollout: {alerts: {webhooks: [{kind: slack}]}}\n", "required"},
		{"rollout.alerts.webhooks[1].url", minimal + "rollout: {alerts: {webhooks: [{kind: generic, url: 'http://h/'}, {kind: generic, url: 'ftp://h/'}]}}\n", "http or https"},
		{"rollout.alerts.webhooks[0].routing_key", minimal + "rollout: {alerts: {webhooks: [{kind: pagerduty}]}}\n", "required"},
		{"rollout.alerts.webhooks[0].routing_key", minimal + "rollout: {alerts: {webhooks: [{kind: slack, url: 'https://h/', routing_key: k}]}}\n", "only for pagerduty"},
		{"rollout.alerts.webhooks[0].routing_key_env", minimal + "rollout: {alerts: {webhooks: [{kind: slack, url: 'https://h/', routing_key_env: K}]}}\n", "only for pagerduty"},
		{"log.level", minimal + "log: {level: verbose}\n", "one of"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yml))
		if err == nil {
			t.Errorf("%s: accepted", tc.path)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error is not ErrInvalid: %v", tc.path, err)
			continue
		}
		if !hasField(err, tc.path) {
			t.Errorf("%s: no FieldError for it in: %v", tc.path, err)
		}
		if !strings.Contains(err.Error(), tc.path+": ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: message %q lacks %q", tc.path, err, tc.msg)
		}
	}
}

// A legacy backend's operations may take any name but another of the legacy
// protocol's frame types; a Socket.IO backend's are event names, where
// those names mean nothing.
func TestEventNamesAllowed(t *testing.T) {
	for _, yml := range []string{
		strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {subscribe: sub, unsubscribe: unsub, publish: pub, message: msg}", 1),
		strings.Replace(minimal, "protocol: legacy", "protocol: legacy, events: {subscribe: subscribe, unsubscribe: unsubscribe, publish: publish, message: message}", 1),
		strings.Replace(minimal, "protocol: socketio", "protocol: socketio, events: {subscribe: ack, unsubscribe: error, publish: welcome, message: pong}", 1),
	} {
		if _, err := Parse([]byte(yml)); err != nil {
			t.Errorf("refused: %v\n%s", err, yml)
		}
	}
}

// hasField reports whether err (possibly joined) holds a FieldError for path.
func hasField(err error, path string) bool {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Path == path {
		return true
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if hasField(e, path) {
				return true
			}
		}
	}
	return false
}

func TestValidateReportsEveryProblem(t *testing.T) {
	var c Config
	c.SetDefaults()
	err := c.Validate()
	for _, path := range []string{"admin.token", "backends.blue.protocol", "backends.blue.url", "backends.green.protocol", "backends.green.url"} {
		if !hasField(err, path) {
			t.Errorf("empty config: no problem reported for %s in:\n%v", path, err)
		}
	}
	if _, err := Parse(nil); !hasField(err, "admin.token") {
		t.Errorf("empty document: %v", err)
	}
}

func TestSecretsFromEnvironment(t *testing.T) {
	t.Setenv("BATON_TEST_ADMIN", "s3cret")
	t.Setenv("BATON_TEST_HMAC", "hmac")
	t.Setenv("BATON_TEST_PD", "pd-key")
	yml := strings.Replace(minimal, "  token: change-me\n", "  token_env: BATON_TEST_ADMIN\n", 1)
	yml = strings.Replace(yml, "query: user", "jwt: {hs256_secret_env: BATON_TEST_HMAC}", 1)
	yml += "rollout: {alerts: {webhooks: [{kind: pagerduty, routing_key_env: BATON_TEST_PD}]}}\n"
	c := mustParse(t, yml)
	wh := c.Rollout.Alerts.Webhooks[0]
	if c.Admin.BearerToken() != "s3cret" || string(c.Identity.JWT.HMACSecret()) != "hmac" ||
		wh.PagerDutyRoutingKey() != "pd-key" || wh.URL != DefaultPagerDutyURL {
		t.Fatalf("secrets: admin %q hmac %q pd %q url %q", c.Admin.BearerToken(), c.Identity.JWT.HMACSecret(), wh.PagerDutyRoutingKey(), wh.URL)
	}
	if c.Identity.Query != "" || c.Identity.JWT.Claim != "sub" || c.Identity.JWT.Query != "token" {
		t.Fatalf("jwt identity defaults: %+v %+v", c.Identity, *c.Identity.JWT)
	}
}

func TestRS256KeyFile(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "jwt.pub.pem")
	bad := filepath.Join(dir, "not-a-key.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	jwtConf := func(file string) string {
		return strings.Replace(minimal, "query: user", "jwt: {claim: uid, rs256_public_key_file: '"+file+"'}", 1)
	}
	c := mustParse(t, jwtConf(good))
	if c.Identity.JWT.HMACSecret() != nil || c.Identity.JWT.Claim != "uid" {
		t.Fatalf("rs256 identity: %+v", *c.Identity.JWT)
	}
	if _, err := Parse([]byte(jwtConf(bad))); !hasField(err, "identity.jwt.rs256_public_key_file") {
		t.Fatalf("bad key file: %v", err)
	}
}

func TestRoutingTable(t *testing.T) {
	c := mustParse(t, strings.Replace(minimal, "weight: 0", "weight: 12.5\n  allow: [vip]\n  deny: [banned]", 1))
	tbl, err := c.Routing.Table()
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Weight() != 1250 || tbl.Salt() != "baton" || tbl.Backend("vip") != router.Green || tbl.Backend("banned") != router.Blue {
		t.Fatalf("table: weight %v salt %q", tbl.Weight(), tbl.Salt())
	}
}

func TestRolloutPlanValidate(t *testing.T) {
	var r Rollout
	r.Steps = []float64{20, 100}
	r.SetDefaults()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	r.Steps = []float64{20, 10}
	if err := r.Validate(); !hasField(err, "rollout.steps[1]") || !hasField(err, "rollout.steps") {
		t.Fatalf("bad plan: %v", err)
	}
}

// Parse must never panic, and whatever it accepts must be valid and stable
// under SetDefaults.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "rollout: {steps: [12.5, 100], alerts: {webhooks: [{kind: pagerduty, routing_key: k}]}}\n"))
	f.Add([]byte(minimal + "edge: {outbound_queue: {messages: 1, bytes: 99999999}}\n"))
	f.Add([]byte("listen: [\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		again := *c
		again.SetDefaults()
		if err := again.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate after SetDefaults: %v", err)
		}
		if _, err := c.Routing.Table(); err != nil {
			t.Fatalf("accepted config has no routing table: %v", err)
		}
	})
}

// min_samples may ask for every probe sample of a window's whole seconds
// (590 by default: a gate sees 59 whole seconds and part of one), and for
// more when the probe is off (the gates then read client requests).
func TestMinSamplesWithinTheProbesReach(t *testing.T) {
	for _, yml := range []string{
		minimal + "rollout: {min_samples: 590}\n",
		minimal + "rollout: {min_samples: 600}\nhealth: {window: 61s}\n",
		minimal + "rollout: {min_samples: 1000}\nhealth: {probe: {disabled: true}}\n",
	} {
		if _, err := Parse([]byte(yml)); err != nil {
			t.Errorf("%s: %v", yml, err)
		}
	}
}

func TestStoreURLErrorHidesThePassword(t *testing.T) {
	_, err := Parse([]byte(minimal + "rollout: {store: {kind: redis, url: 'http://user:hunter2@h:6379'}}\n"))
	if err == nil {
		t.Fatal("an http:// store URL was accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the error shows the URL's password: %v", err)
	}
}
