// Package config is the gateway's configuration: a YAML file decoded strictly
// into plain structs, completed by SetDefaults and checked by Validate.
//
// Every field documents what its zero value means; in almost every case zero
// means "use the default", so a Config built in code needs only the fields it
// cares about before SetDefaults. docs/config.md is the operator's reference;
// a test keeps it in step with the yaml tags here.
package config

import (
	"os"
	"time"
)

// Config is the whole gateway configuration (`baton gateway --config FILE`).
type Config struct {
	// Listen is the edge address for clients: legacy WebSocket clients at
	// /ws, Socket.IO clients at /socket.io/. Empty means 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Admin is the operator API.
	Admin Admin `yaml:"admin"`
	// Identity says where the user key of a connection comes from.
	Identity Identity `yaml:"identity"`
	// Backends are the two deployments the gateway moves users between.
	Backends Backends `yaml:"backends"`
	// Routing assigns users to backends.
	Routing Routing `yaml:"routing"`
	// Handover paces live moves of sessions between backends.
	Handover Handover `yaml:"handover"`
	// Edge bounds what one client connection may use.
	Edge Edge `yaml:"edge"`
	// Health configures the per-backend measurements that rollout gates read.
	Health Health `yaml:"health"`
	// Rollout is the default plan of the rollout controller.
	Rollout Rollout `yaml:"rollout"`
	// Log configures the process log.
	Log Log `yaml:"log"`
}

// Admin is the operator HTTP API (weights, status, rollout, metrics).
type Admin struct {
	// Listen is the admin API address. Empty means 127.0.0.1:9090. It must
	// differ from the edge address.
	Listen string `yaml:"listen"`
	// Token is the bearer token every admin request must present
	// (Authorization: Bearer <token>). Required unless TokenEnv is set.
	Token string `yaml:"token"`
	// TokenEnv names an environment variable holding the token, so the file
	// need not contain it. Empty means unused; set Token or TokenEnv, not both.
	TokenEnv string `yaml:"token_env"`
	// AdvertiseURL is the admin API's URL as other gateways sharing a
	// Redis rollout store give it to operators when this one holds the
	// store (holder_admin), for a gateway whose Listen is not what they
	// can reach (NAT, Kubernetes, every interface). Empty means
	// http:// and Listen, with the host name for an unspecified host.
	AdvertiseURL string `yaml:"advertise_url"`
}

// BearerToken returns the admin token: Token, or the value of TokenEnv.
func (a Admin) BearerToken() string {
	if a.Token != "" {
		return a.Token
	}
	return os.Getenv(a.TokenEnv)
}

// Identity says where a connection's user key comes from. Routing is by user
// key, so all sessions of one user share a backend. Without any source set,
// the key comes from the query parameter "user". JWT cannot be combined with
// the other sources: an unauthenticated source would let anyone pick a key.
// When both Header and Query are set, the header is tried first. A
// connection without a user key is refused.
type Identity struct {
	// Query is the query parameter holding the user key (?user=alice).
	// Empty means not used, unless no source is set at all: then "user".
	Query string `yaml:"query"`
	// Header is the HTTP header holding the user key (X-User). Empty means
	// not used.
	Header string `yaml:"header"`
	// JWT takes the user key from a claim of a verified JSON Web Token.
	// Nil means not used.
	JWT *JWT `yaml:"jwt"`
}

// JWT verifies a token and takes the user key from one of its claims. Exactly
// one key source must be set: HS256Secret, HS256SecretEnv or
// RS256PublicKeyFile; tokens signed with any other algorithm are refused.
type JWT struct {
	// Claim is the claim holding the user key. Empty means "sub".
	Claim string `yaml:"claim"`
	// Query is the query parameter carrying the token when the client cannot
	// send an Authorization: Bearer header (browsers' WebSocket API cannot).
	// Empty means "token". Socket.IO clients may also send the token as
	// "token" in their auth payload.
	Query string `yaml:"query"`
	// HS256Secret is the shared HMAC-SHA256 secret.
	HS256Secret string `yaml:"hs256_secret"`
	// HS256SecretEnv names an environment variable holding the HMAC secret.
	HS256SecretEnv string `yaml:"hs256_secret_env"`
	// RS256PublicKeyFile is a PEM file with the RSA public key for RS256
	// tokens; a relative path is relative to the working directory.
	RS256PublicKeyFile string `yaml:"rs256_public_key_file"`
}

// Backends are the two deployments. Blue is where users start, green is where
// the rollout takes them.
type Backends struct {
	Blue  Backend `yaml:"blue"`
	Green Backend `yaml:"green"`
}

// Protocol is a backend's wire protocol.
type Protocol string

// Backend protocols.
const (
	// ProtocolLegacy is Baton's legacy JSON-over-WebSocket protocol
	// (docs/protocols/legacy.md); URL scheme ws or wss.
	ProtocolLegacy Protocol = "legacy"
	// ProtocolSocketIO is Socket.IO v5 over Engine.IO v4; URL scheme http,
	// https, ws or wss, path usually /socket.io/.
	ProtocolSocketIO Protocol = "socketio"
)

// Backend is one deployment the gateway dials for its sessions.
type Backend struct {
	// URL is the backend endpoint, e.g. ws://127.0.0.1:8081/ws or
	// http://127.0.0.1:8082/socket.io/. Required.
	URL string `yaml:"url"`
	// Protocol is "legacy" or "socketio". Required.
	Protocol Protocol `yaml:"protocol"`
	// Namespace is the Socket.IO namespace to join. Empty means "/". Only
	// for socketio backends.
	Namespace string `yaml:"namespace"`
	// DialTimeout bounds connecting and the protocol handshake. Zero means
	// 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// PingInterval and PingTimeout are the gateway's heartbeat on a legacy
	// backend's connections: one that has sent nothing for PingInterval is
	// sent a WebSocket Ping, and one that then sends nothing (no Pong, no
	// frame) for PingTimeout is taken for dead and dropped (its sessions
	// re-attach). The heartbeat cannot be turned off. Zero means 25s and
	// 20s. Only for legacy backends: a Socket.IO backend's heartbeat is
	// Engine.IO's, which the backend drives.
	PingInterval time.Duration `yaml:"ping_interval"`
	PingTimeout  time.Duration `yaml:"ping_timeout"`
	// MaxMessageBytes is the largest frame the backend takes from the
	// gateway: a legacy backend's WebSocket message, a Socket.IO
	// backend's Engine.IO packet. A client's request whose frame for this
	// backend would be larger is refused by the gateway with
	// message_too_large, and nothing is sent. Zero means
	// Edge.MaxMessageBytes.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// Events maps Baton's session operations to this backend's message
	// names. Empty names take the defaults of the reference services.
	Events Events `yaml:"events"`
}

// Events names the pub/sub operations on a backend: legacy frame "type"s or
// Socket.IO event names. Payloads follow the reference services
// ({"channel":C,"since":N} for subscribe, {"channel":C,"data":D} for publish,
// {"channel":C,"seq":N,"data":D} for message); every other message passes
// through under its own name with its payload untouched.
type Events struct {
	// Subscribe is the client→backend subscribe operation. Empty means
	// "subscribe".
	Subscribe string `yaml:"subscribe"`
	// Unsubscribe is the client→backend unsubscribe operation. Empty means
	// "unsubscribe".
	Unsubscribe string `yaml:"unsubscribe"`
	// Publish is the client→backend publish operation. Empty means
	// "publish".
	Publish string `yaml:"publish"`
	// Message is the backend→client delivery of a channel message. Empty
	// means "message".
	Message string `yaml:"message"`
}

// Routing assigns each user to blue or green (see package router for the
// exact bucket hash).
type Routing struct {
	// Weight is the percentage of users on green, 0 to 100 with at most two
	// decimals (12.5). Zero means everybody on blue.
	Weight float64 `yaml:"weight"`
	// Salt is mixed into the bucket hash; changing it reshuffles all users.
	// Empty means "baton".
	Salt string `yaml:"salt"`
	// Allow lists user keys always on green, whatever the weight.
	Allow []string `yaml:"allow"`
	// Deny lists user keys always on blue; a key on both lists is on blue.
	Deny []string `yaml:"deny"`
}

// Handover paces live moves of sessions between backends (make-before-break).
type Handover struct {
	// MovesPerSecond caps how many moves start per second, so the target
	// backend sees no thundering herd. Zero means 5000.
	MovesPerSecond int `yaml:"moves_per_second"`
	// Concurrency caps how many moves run at once. Zero means 256.
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds one move from dialing the target until cut-over; on
	// expiry the session stays where it was and the failure is counted.
	// Zero means 5s.
	Timeout time.Duration `yaml:"timeout"`
	// DrainTimeout bounds how long requests in flight on the old backend may
	// take to be answered after cut-over before it is closed anyway. Zero
	// means 5s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// PrepareTTL is how long connections dialed ahead of a weight change
	// (POST /api/v1/weight/prepare) wait for the change that uses them
	// before they are closed. Zero means 5m.
	PrepareTTL time.Duration `yaml:"prepare_ttl"`
	// RetryBackoff is how long after a weight change whose moves failed
	// (or an attach or re-attach that had to land on the other backend)
	// the gateway tries those sessions again, at the pace of the change;
	// the wait doubles after each try, up to RetryMaxBackoff, until every
	// session is where the weight says or the weight changes. Zero means
	// 1s; RetryMaxBackoff zero means 30s.
	RetryBackoff    time.Duration `yaml:"retry_backoff"`
	RetryMaxBackoff time.Duration `yaml:"retry_max_backoff"`
}

// Overflow rules for a client's outbound queue.
const (
	// OverflowDisconnect closes a client whose queue is full, with a close
	// code and reason, and counts it. No message is ever skipped.
	OverflowDisconnect = "disconnect"
	// OverflowDropNewest discards the message that does not fit and counts
	// it; the client stays connected but misses that message.
	OverflowDropNewest = "drop_newest"
)

// Edge bounds what one client connection may use.
type Edge struct {
	// MaxMessageBytes is the largest client frame or Socket.IO packet
	// accepted; larger ones close the connection (WebSocket 1009, HTTP 413
	// for long-polling). Zero means 1 MiB (1048576).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxHeaderBytes bounds the request line and headers of one HTTP
	// request at the edge (a WebSocket upgrade, a Socket.IO poll); larger
	// ones are answered 431. A Socket.IO session keeps its handshake's
	// headers until its CONNECT, so this is also what one unauthenticated
	// session may hold. Zero means 32 KiB (32768).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxSubscriptions caps the channels one session may subscribe to; more
	// are refused with an error reply. Zero means 100.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// OutboundQueue bounds the messages waiting to be written to one client.
	OutboundQueue Queue `yaml:"outbound_queue"`
	// Overflow is what happens when a message does not fit in the outbound
	// queue: "disconnect" or "drop_newest". Empty means "disconnect".
	Overflow string `yaml:"overflow"`
	// PingInterval is the heartbeat interval of both edges: the Engine.IO
	// one announced to Socket.IO clients, and how often a legacy client is
	// sent a WebSocket Ping. Zero means 25s.
	PingInterval time.Duration `yaml:"ping_interval"`
	// PingTimeout is how long a client may stay silent after a heartbeat
	// ping: a Socket.IO client to answer the Engine.IO ping, a legacy client
	// sending nothing at all (no Pong, no frame). Zero means 20s.
	PingTimeout time.Duration `yaml:"ping_timeout"`
	// OriginPatterns lists the Origin hosts (path.Match patterns such as
	// "*.example.com") allowed for browser clients on both listeners (the
	// legacy WebSocket and every Socket.IO request). Empty means only
	// same-host origins; requests without Origin are always accepted.
	OriginPatterns []string `yaml:"origin_patterns"`
}

// Queue bounds one outbound queue by count and by bytes; whichever is
// reached first applies.
type Queue struct {
	// Messages is the most messages queued. Zero means 1024.
	Messages int `yaml:"messages"`
	// Bytes is the most payload bytes queued. Zero means 4 MiB (4194304).
	Bytes int `yaml:"bytes"`
}

// Health configures per-backend measurements.
type Health struct {
	// Window is the sliding window over which error rates and latency
	// percentiles are computed; a rollout gate reads the part of it since
	// its step began. Zero means 60s.
	Window time.Duration `yaml:"window"`
	// Probe is the synthetic traffic that gives gates data without users.
	Probe Probe `yaml:"probe"`
}

// Probe is one synthetic session per backend publishing on a channel and
// timing publish→deliver.
type Probe struct {
	// Interval is the time between two probe publishes. Zero means 100ms.
	Interval time.Duration `yaml:"interval"`
	// Channel is the probe channel. Empty means "baton.probe".
	Channel string `yaml:"channel"`
	// Disabled turns the probes off. False (the zero value) means probes run.
	Disabled bool `yaml:"disabled"`
}

// Log configures the process log (log/slog).
type Log struct {
	// Level is "debug", "info", "warn" or "error". Empty means "info".
	Level string `yaml:"level"`
	// Format is "text" or "json". Empty means "text".
	Format string `yaml:"format"`
}

// HMACSecret returns the HS256 secret: HS256Secret, or the value of
// HS256SecretEnv; nil when the token is verified with RS256.
func (j *JWT) HMACSecret() []byte {
	if j.HS256Secret != "" {
		return []byte(j.HS256Secret)
	}
	if j.HS256SecretEnv != "" {
		return []byte(os.Getenv(j.HS256SecretEnv))
	}
	return nil
}
