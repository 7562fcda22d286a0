// Package gwbench is the gateway benchmark driver. It runs in its own
// process beside the reference services (`baton serve`), the gateway
// (`baton gateway`) and NGINX as a plain WebSocket reverse proxy, and
// measures, over loopback, what the gateway issue asks for:
//
//   - added round-trip latency of a ~100-byte request→ack (and the
//     publish→deliver of the same message) at 1,000 sessions, through the
//     gateway, direct to the backend and through NGINX, in interleaved rounds;
//   - RSS per idle session at 10,000 sessions (gateway: edge socket +
//     upstream socket; NGINX: one proxied connection);
//   - fan-out deliveries/s through the gateway, direct and through NGINX, and
//     the proxy's CPU per relayed frame;
//   - a live handover of 10,000 sessions blue→green under publishing load:
//     time, sessions/s, per-session delivery pause, lost and duplicated
//     messages (tracked by seq at every client).
//
// Clients are raw coder/websocket connections speaking the legacy protocol
// (docs/protocols/legacy.md) and looking at a few bytes per frame, so that
// the driver stays cheap next to the processes it measures. Report renders
// a Result as the gateway section of docs/benchmarks.md.
package gwbench

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/baton-rt/baton/internal/loadgen/procstat"
)

var (
	// ErrHandshake: a peer answered the connect sequence unexpectedly.
	ErrHandshake = errors.New("gwbench: handshake failed")
	// ErrRefused: a request was answered with an error frame.
	ErrRefused = errors.New("gwbench: request refused")
	// ErrPublish: the backend refused an HTTP publish.
	ErrPublish = errors.New("gwbench: publish failed")
	// ErrAdmin: the gateway's admin API answered unexpectedly.
	ErrAdmin = errors.New("gwbench: admin API error")
	// ErrProc: a /proc file could not be understood.
	ErrProc = procstat.ErrProc
	// ErrNoMarkers: the document has no gateway results section.
	ErrNoMarkers = errors.New("gwbench: results markers not found")
)

// Target is one way to reach the backend's legacy endpoint.
type Target struct {
	Name string // "gateway", "direct", "nginx", "gateway-green", "gateway-sio", "direct-sio"
	Addr string // host:port serving /ws (/socket.io/ with SocketIO); empty: target skipped
	PID  int    // process measured for RSS and CPU; 0 for direct (the backend's own figures are in the backend columns)
	// SocketIO: the clients speak Socket.IO (Engine.IO v4 over WebSocket)
	// instead of legacy.
	SocketIO bool
	// Green: the gateway is measured at weight 100, its sessions on green.
	Green bool
}

// Config is one benchmark run. Zero fields take their defaults (Defaults).
type Config struct {
	Gateway Target // the gateway's edge (required)
	Direct  Target // the blue backend's legacy service (required)
	NGINX   Target // NGINX proxying to Direct (optional), or PeerName's proxy
	// DirectSocketIO is green's Socket.IO service (optional): with it the
	// latency and fan-out phases also measure Socket.IO clients, through
	// the gateway at weight 100 ("gateway-sio") and direct to green
	// ("direct-sio").
	DirectSocketIO Target
	// PeerName names the proxy at NGINX's address in the report: "NGINX"
	// when empty; "Go relay" for `baton gwbench relay` (see Relay).
	PeerName string

	// BackendPID is the `baton serve` process (blue legacy + green
	// Socket.IO over one broker); PublishURL its HTTP publish endpoint.
	BackendPID int
	PublishURL string // http://host:port/api/v1/publish

	AdminURL   string // gateway admin API base, http://host:port
	AdminToken string
	// GCURL is fetched before each gateway memory reading to make it
	// collect garbage (its pprof heap?gc=1); empty: settle only.
	GCURL string
	// VarsURL is the gateway's expvar page (/debug/vars on its pprof
	// listener); when set, the fan-out counts the gateway's allocations
	// per relayed frame from its memstats.
	VarsURL string
	// PprofURL, with ProfileDir, saves gateway CPU profiles over the
	// fan-out window and the handover, and a heap profile at 10k idle.
	PprofURL   string
	ProfileDir string
	// BackendPprofURL, with ProfileDir, also saves the backend's CPU
	// profile over the handover: the moves' other half runs there.
	BackendPprofURL string

	QuietWait  time.Duration // wait for other processes below QuietBelow cores before starting (60s; <0: no wait)
	QuietBelow float64       // cores (0.3)

	DialConcurrency int // dials in flight (64)

	LatencySessions int           // sessions held per target in the latency phase (1000)
	LatencyRounds   int           // interleaved rounds over the targets (3)
	LatencyFor      time.Duration // per target per round (3s)
	LatencyMax      int           // samples per target per round at most (20000)

	FanoutSubs   int           // subscribers of the fan-out channel per target (5000)
	FanoutWarmup time.Duration // (2s)
	FanoutWindow time.Duration // (8s)
	// FanoutRounds is how many times each target's fan-out is measured,
	// the targets taking turns; the round with the median result is
	// reported (5: with three, one slow round, common on a shared
	// machine, already pulls the median up; with five it takes two).
	FanoutRounds int
	// NoFanoutGreen leaves out the fan-out through green: the gateway at
	// weight 100 (its sessions on the Socket.IO service), the path every
	// client takes once a migration is done. It has no direct baseline:
	// the driver's clients speak legacy, green Socket.IO.
	NoFanoutGreen bool
	InFlight      int // concurrent publishes at saturation (4)
	MaxLag        int // publisher stays at most this many messages ahead of the average subscriber (50)

	Sessions int // idle sessions for memory and handover (10000)
	// SessionsSocketIO: the gateway's memory and handover sessions are
	// Socket.IO clients instead of legacy ones.
	SessionsSocketIO bool
	// NGINXSessions is NGINX's count for its memory reading (Sessions when
	// zero or more): it needs a little more than two descriptors per
	// proxied connection, so under an open-file limit it fits fewer.
	NGINXSessions int
	Idle          time.Duration // idle time before the memory reading (5s)
	Settle        time.Duration // wait after a GC before reading RSS (2s)

	Channels       int     // channels the handover sessions spread over (200)
	PerSessionRate float64 // messages/s each handover session receives (1)
	// StressRate, when set, adds one more move (back the other way) at
	// this per-session rate: a load where the backends' shared core is
	// already saturated before anyone moves, shown beside the main one.
	StressRate float64
	Baseline   time.Duration // steady publishing before the weight change (3s)
	After      time.Duration // publishing after the weight change answered (2s)
	Reverse    bool          // also move everybody back green→blue (100→0)
	// Prepared adds one more move after the others, blue→green with the
	// connections prepared ahead (POST /api/v1/weight/prepare) before the
	// baseline window, so the move itself only resubscribes.
	Prepared bool
	// PreparedSessions, when above zero and below Sessions, is how many
	// sessions the prepared move and the one set beside it keep (a
	// prepared session holds three sockets at the gateway).
	PreparedSessions int

	Payload int           // bytes of a request frame and of published data (100)
	Drain   time.Duration // longest wait for outstanding deliveries (15s)

	// Skip names phases not to run ("handover", "latency", "fanout"), for
	// working on one phase; a full run (docs/benchmarks.md) skips none.
	Skip []string
}

// Phase names for Config.Skip.
const (
	PhaseHandover = "handover" // memory and handover at Sessions
	PhaseLatency  = "latency"
	PhaseFanout   = "fanout"
)

// runs says whether the phase is not skipped.
func (c *Config) runs(phase string) bool { return !slices.Contains(c.Skip, phase) }

// Defaults fills zero fields.
func (c *Config) Defaults() {
	c.QuietWait = cmp.Or(c.QuietWait, time.Minute)
	c.QuietBelow = cmp.Or(c.QuietBelow, 0.3)
	c.DialConcurrency = cmp.Or(c.DialConcurrency, 64)
	c.LatencySessions = cmp.Or(c.LatencySessions, 1000)
	c.LatencyRounds = cmp.Or(c.LatencyRounds, 3)
	c.LatencyFor = cmp.Or(c.LatencyFor, 3*time.Second)
	c.LatencyMax = cmp.Or(c.LatencyMax, 20000)
	c.FanoutSubs = cmp.Or(c.FanoutSubs, 5000)
	c.FanoutWarmup = cmp.Or(c.FanoutWarmup, 2*time.Second)
	c.FanoutWindow = cmp.Or(c.FanoutWindow, 8*time.Second)
	c.FanoutRounds = cmp.Or(c.FanoutRounds, 5)
	c.InFlight = cmp.Or(c.InFlight, 4)
	c.MaxLag = cmp.Or(c.MaxLag, 50)
	c.Sessions = cmp.Or(c.Sessions, 10000)
	if c.NGINXSessions <= 0 || c.NGINXSessions > c.Sessions {
		c.NGINXSessions = c.Sessions
	}
	c.Idle = cmp.Or(c.Idle, 5*time.Second)
	c.Settle = cmp.Or(c.Settle, 2*time.Second)
	c.Channels = cmp.Or(c.Channels, 200)
	c.PerSessionRate = cmp.Or(c.PerSessionRate, 1)
	c.Baseline = cmp.Or(c.Baseline, 3*time.Second)
	c.After = cmp.Or(c.After, 2*time.Second)
	c.Payload = cmp.Or(c.Payload, 100)
	c.Drain = cmp.Or(c.Drain, 15*time.Second)
	c.Gateway.Name, c.Direct.Name, c.NGINX.Name = "gateway", "direct", "nginx"
	c.DirectSocketIO.Name, c.DirectSocketIO.SocketIO = directSIOName, true
}

// Validate names the first field that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Gateway.Addr == "" || c.Gateway.PID <= 0:
		return errors.New("gwbench: the gateway address and PID are required")
	case c.Direct.Addr == "":
		return errors.New("gwbench: the direct (backend) address is required")
	case c.NGINX.Addr != "" && c.NGINX.PID <= 0:
		return errors.New("gwbench: the NGINX PID is required with its address")
	case c.BackendPID <= 0 || c.PublishURL == "":
		return errors.New("gwbench: the backend PID and publish URL are required")
	case c.AdminURL == "":
		return errors.New("gwbench: the admin URL is required")
	case c.LatencySessions < 1, c.LatencyRounds < 1, c.LatencyMax < 1, c.FanoutSubs < 1, c.FanoutRounds < 1,
		c.Sessions < 1, c.Channels < 1, c.DialConcurrency < 1, c.InFlight < 1, c.MaxLag < 1:
		return errors.New("gwbench: counts must be positive")
	case slices.ContainsFunc(c.Skip, func(p string) bool {
		return p != PhaseHandover && p != PhaseLatency && p != PhaseFanout
	}):
		return fmt.Errorf("gwbench: Skip: phases are %s, %s and %s", PhaseHandover, PhaseLatency, PhaseFanout)
	case c.Channels > c.Sessions:
		return errors.New("gwbench: Channels must not exceed Sessions")
	case c.PerSessionRate <= 0 || c.PerSessionRate > 1000 || c.StressRate < 0 || c.StressRate > 1000:
		return errors.New("gwbench: PerSessionRate and StressRate must be in (0, 1000]")
	case c.Payload < minPayload || c.Payload > 1<<16:
		return fmt.Errorf("gwbench: Payload must be between %d and 65536", minPayload)
	case c.LatencyFor <= 0, c.FanoutWindow <= 0, c.Drain <= 0, c.Baseline <= 0, c.After < 0,
		c.FanoutWarmup < 0, c.Idle < 0, c.Settle < 0:
		return errors.New("gwbench: durations must be positive (After, warm-up, idle and settle may be 0)")
	}
	return nil
}
