// Package loadgen is Baton's benchmark load generator. It drives one
// pub/sub service (Baton's Socket.IO or legacy reference service, or the
// official Node socket.io server running the same API) from a separate
// process, over loopback, and measures what the issue asks for:
//
//   - server RSS per idle connection, read from /proc/PID/status;
//   - handshake rate (WebSocket upgrade + namespace join);
//   - broadcast fan-out to one channel: publish→deliver latency at a fixed
//     sub-saturation rate, and delivered messages per second at saturation.
//
// Clients are raw and cheap (coder/websocket, a few bytes of parsing per
// frame) so that the load generator costs little memory and CPU next to the
// server it measures. Report renders the results as Markdown.
package loadgen

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/baton-rt/baton/internal/loadgen/procstat"
)

var (
	// ErrUnknownProtocol: Config.Protocol is not SocketIO or Legacy.
	ErrUnknownProtocol = errors.New("loadgen: unknown protocol")
	// ErrProc: a /proc file could not be understood.
	ErrProc = procstat.ErrProc
	// ErrHandshake: the server answered the connect sequence unexpectedly.
	ErrHandshake = errors.New("loadgen: handshake failed")
	// ErrPublish: the service refused a publish.
	ErrPublish = errors.New("loadgen: publish failed")
	// ErrRefused: the service answered a request with an error.
	ErrRefused = errors.New("loadgen: request refused")
)

// Config describes one benchmark run against one server. The zero value of
// a field means its default (see Defaults), except where noted.
type Config struct {
	Name     string   // label in the report, e.g. "Baton Socket.IO"
	Protocol Protocol // SocketIO or Legacy
	Addr     string   // service address, host:port on loopback
	PID      int      // server process whose memory and CPU are measured (required)

	// GCURL, when set, is fetched (GET) before each memory reading to make the
	// server collect garbage, e.g. Go's /debug/pprof/heap?gc=1 or the Node
	// peer's /debug/gc. Without it the run only waits Settle.
	GCURL string
	// PprofURL, when set with ProfileDir, is the base URL of the server's
	// net/http/pprof handlers: a heap profile is saved with the idle
	// connections open and a CPU profile over the saturation window.
	PprofURL   string
	ProfileDir string

	// QuietWait is how long the run waits, before it starts and again
	// before each timed fan-out phase, for the machine's other processes to
	// use less than QuietBelow cores (2m; negative: do not wait). The
	// machine is shared; the wait makes runs comparable, and the busy level
	// is recorded either way.
	QuietWait  time.Duration
	QuietBelow float64 // cores (0.3)

	Conns           int           // idle connections for the memory reading (10000)
	DialConcurrency int           // dials in flight while connecting (64)
	SourceIPs       int           // spread dials over 127.0.0.1..N (1; more past ~28k conns)
	Idle            time.Duration // connections sit idle this long before the reading (5s)
	Settle          time.Duration // wait after a GC before reading RSS (2s)

	Subscribers int    // subscribers of the fan-out channel (5000)
	Channel     string // fan-out channel ("bench")
	PayloadSize int    // bytes of the published data JSON (100)

	LatencyRate int           // publishes per second in the latency phase (5)
	LatencyFor  time.Duration // length of the latency phase (10s)

	InFlight int           // concurrent publishes in the saturation phase (4)
	MaxLag   int           // saturation publisher stays at most this many messages ahead of the average subscriber (50)
	Warmup   time.Duration // saturation time before the window (2s)
	Window   time.Duration // saturation measuring window (10s)
	Drain    time.Duration // longest wait for in-flight deliveries after a phase (15s)
}

// Defaults fills every zero field with its default.
func (c *Config) Defaults() {
	c.QuietWait = cmp.Or(c.QuietWait, 2*time.Minute)
	c.QuietBelow = cmp.Or(c.QuietBelow, 0.3)
	c.Conns = cmp.Or(c.Conns, 10000)
	c.DialConcurrency = cmp.Or(c.DialConcurrency, 64)
	c.SourceIPs = cmp.Or(c.SourceIPs, 1)
	c.Idle = cmp.Or(c.Idle, 5*time.Second)
	c.Settle = cmp.Or(c.Settle, 2*time.Second)
	c.Subscribers = cmp.Or(c.Subscribers, 5000)
	c.Channel = cmp.Or(c.Channel, "bench")
	c.PayloadSize = cmp.Or(c.PayloadSize, 100)
	c.LatencyRate = cmp.Or(c.LatencyRate, 5)
	c.LatencyFor = cmp.Or(c.LatencyFor, 10*time.Second)
	c.InFlight = cmp.Or(c.InFlight, 4)
	c.MaxLag = cmp.Or(c.MaxLag, 50)
	c.Warmup = cmp.Or(c.Warmup, 2*time.Second)
	c.Window = cmp.Or(c.Window, 10*time.Second)
	c.Drain = cmp.Or(c.Drain, 15*time.Second)
	c.Name = cmp.Or(c.Name, string(c.Protocol))
}

// Validate reports the first field that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Protocol != SocketIO && c.Protocol != Legacy:
		return fmt.Errorf("%w: %q", ErrUnknownProtocol, c.Protocol)
	case c.Addr == "":
		return errors.New("loadgen: Addr is required")
	case c.PID <= 0:
		return errors.New("loadgen: PID of the server process is required")
	case c.Conns < 1:
		return errors.New("loadgen: Conns must be positive")
	case c.Subscribers < 1 || c.Subscribers > c.Conns:
		return errors.New("loadgen: Subscribers must be between 1 and Conns")
	case c.PayloadSize < minPayload || c.PayloadSize > 1<<16:
		return fmt.Errorf("loadgen: PayloadSize must be between %d and 65536", minPayload)
	case c.DialConcurrency < 1, c.InFlight < 1, c.MaxLag < 1, c.LatencyRate < 1:
		return errors.New("loadgen: DialConcurrency, InFlight, MaxLag and LatencyRate must be positive")
	case c.SourceIPs < 1 || c.SourceIPs > 250:
		return errors.New("loadgen: SourceIPs must be between 1 and 250")
	case c.Idle < 0, c.Settle < 0, c.LatencyFor <= 0, c.Warmup < 0, c.Window <= 0, c.Drain <= 0:
		return errors.New("loadgen: durations must not be negative; LatencyFor, Window and Drain must be positive")
	}
	return nil
}
