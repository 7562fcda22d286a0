// Package demo is `baton demo`: the whole story in one process, on embedded
// defaults and loopback only.
//
// It starts the reference services (blue: legacy WebSocket, green:
// Socket.IO) on one memory broker, the gateway with its admin API and
// rollout controller (package app), and a fleet of simulated clients, half
// legacy and half Socket.IO, each with its own user key (so the router
// buckets them) and subscribed to a few of the channels. A publisher
// produces a steady sequenced stream on those channels and every client
// makes a request (publish with ack) now and then. Then it runs the rollout
// with short holds, shows its progress, and checks what every client saw:
//
//   - its connection stayed open from start to end (no reconnect);
//   - every subscription delivered every message up to the last one,
//     exactly once, in order;
//   - where the sessions ended up (all green, or all blue after a
//     rollback);
//   - request errors and request→ack P95/P99 per backend, the largest
//     pause between two deliveries to one client, the times.
//
// A Fault makes green misbehave (slow replies, error replies, or an abrupt
// death at a given weight) so that the automatic rollback can be watched:
// the same guarantees must hold on the way back.
package demo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

// Defaults of Config.
const (
	DefaultClients      = 1000
	DefaultRate         = 50 // messages per second, over all channels
	DefaultChannels     = 20
	DefaultPerClient    = 3
	DefaultRequestEvery = time.Second
	DefaultHold         = time.Second
	DefaultTimeout      = 3 * time.Minute
	// DefaultWarmup runs traffic before the rollout starts, so that both
	// backends have health samples and pauses have a baseline.
	DefaultWarmup = time.Second
	// DefaultSettle keeps traffic running after the rollout ended, so that
	// the checks cover deliveries after the last move.
	DefaultSettle = time.Second
	// DefaultCatchUp bounds the wait for every client to receive the last
	// published messages.
	DefaultCatchUp = 10 * time.Second
)

// The demo's gates read its clients' requests (app.Options.GateOnRequests):
// each backend needs gateMinSamples of them since the step began, which a
// step gathers over its hold and up to gateExtensions extensions, at most
// one gateWindow health window.
const (
	gateWindow     = 10 * time.Second
	gateMinSamples = 30
	gateExtensions = 20
)

// ErrInvalidConfig is wrapped by Config.Validate's errors.
var ErrInvalidConfig = errors.New("demo: invalid config")

// Config is one demo run. Zero fields take the defaults above.
type Config struct {
	// Clients is the number of simulated clients; odd ones speak
	// Socket.IO, even ones legacy.
	Clients int
	// Rate is how many messages per second the publisher spreads over the
	// channels.
	Rate float64
	// Channels is how many channels there are; PerClient how many each
	// client subscribes to.
	Channels  int
	PerClient int
	// RequestEvery is the period of each client's requests.
	RequestEvery time.Duration
	// Hold is every rollout step's hold (the controller's test mode).
	Hold time.Duration
	// Fault is what goes wrong with green; the zero value is nothing.
	Fault Fault
	// Warmup, Settle and CatchUp: see the defaults.
	Warmup, Settle, CatchUp time.Duration
	// Timeout bounds the rollout; a rollout still running then is
	// reported as timed out.
	Timeout time.Duration
	// KeepRunning leaves everything up after the report, traffic
	// included, until the context ends: for `baton rollout` and the admin
	// API (Ready tells where).
	KeepRunning bool

	// Out receives the progress; nil discards it. TTY rewrites the status
	// line in place.
	Out io.Writer
	TTY bool
	// Logger receives the components' logs; nil discards them.
	Logger *slog.Logger
	// Ready, when set, is called once the gateway is up and before the
	// clients connect.
	Ready func(Endpoints)
	// OnReport, when set, is called with the report as soon as it is made,
	// before a KeepRunning demo waits for its context.
	OnReport func(*Report)
}

// Endpoints tell where the demo's parts listen.
type Endpoints struct {
	Edge  string // host:port: ws://Edge/ws, http://Edge/socket.io/
	Admin string // http://Admin/api/v1/...
	Token string // the admin API's bearer token
	Blue  string // blue's URL
	Green string // green's URL
}

// DashboardURL is the address of the admin listener's web dashboard
// (it asks for Token).
func (e Endpoints) DashboardURL() string { return "http://" + e.Admin + "/dashboard/" }

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Clients, DefaultClients)
	def(&c.Channels, DefaultChannels)
	def(&c.PerClient, DefaultPerClient)
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	defD(&c.RequestEvery, DefaultRequestEvery)
	defD(&c.Hold, DefaultHold)
	defD(&c.Warmup, DefaultWarmup)
	defD(&c.Settle, DefaultSettle)
	defD(&c.CatchUp, DefaultCatchUp)
	defD(&c.Timeout, DefaultTimeout)
}

// Validate names the first field that cannot be used.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Clients < 0 || c.Clients > 100_000:
		return bad("clients %d: want 1 to 100000", c.Clients)
	case c.Rate < 0 || c.Rate > 100_000 || c.Rate != c.Rate:
		return bad("rate %v: want 0 to 100000 messages per second", c.Rate)
	case c.Channels < 0 || c.Channels > 10_000:
		return bad("channels %d: want 1 to 10000", c.Channels)
	case c.PerClient < 0 || (c.Channels > 0 && c.PerClient > c.Channels):
		return bad("subscriptions per client %d: want 1 to the number of channels", c.PerClient)
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"request every", c.RequestEvery}, {"hold", c.Hold}, {"warmup", c.Warmup}, {"settle", c.Settle}, {"catch-up", c.CatchUp}, {"timeout", c.Timeout}} {
		if d.d < 0 {
			return bad("%s %s: must not be negative", d.name, d.d)
		}
	}
	// At the first step green holds that share of the clients; if their
	// requests over the step (its hold and extensions, at most the health
	// window) cannot give the samples, every verdict is inconclusive until
	// the step fails and the rollout rolls back.
	d := *c
	d.setDefaults()
	first := config.DefaultSteps()[0] / 100
	span := gateWindow
	if d.Hold < gateWindow/(1+gateExtensions) {
		span = d.Hold * (1 + gateExtensions)
	}
	if perStep := float64(d.Clients) * first * float64(span) / float64(d.RequestEvery); perStep < gateMinSamples {
		return bad("clients %d with a request every %s: green's first step (%v %%) would see about %.0f requests over %s (its hold of %s and %d extensions, at most the %s health window), and the gates need %d: use more clients, a shorter request period or a longer hold",
			d.Clients, d.RequestEvery, first*100, perStep, span, d.Hold, gateExtensions, gateWindow, gateMinSamples)
	}
	return nil
}
