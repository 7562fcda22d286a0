package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// testBackends starts blue (legacy) and green (Socket.IO) reference
// services over one memory broker.
func testBackends(t testing.TB) (blue, green *backendtest.Backend) {
	t.Helper()
	b := testBroker(t)
	return backendtest.Legacy(t, b), backendtest.SocketIO(t, b)
}

// testBroker is a memory broker for the reference services a test starts
// after it, closed after them (cleanups run last first).
func testBroker(t testing.TB) broker.Broker {
	t.Helper()
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// testConfig is a gateway on loopback with a short health window, fast
// probes and gates that small samples can pass: the logic is the
// production one, only the numbers are scaled to a test.
func testConfig(blue, green *backendtest.Backend, storePath string) *config.Config {
	c := &config.Config{
		Admin: config.Admin{Token: "secret"},
		Backends: config.Backends{
			Blue:  blue.Config(),
			Green: green.Config(),
		},
		Health: config.Health{Window: 2 * time.Second, Probe: config.Probe{Interval: 10 * time.Millisecond}},
		Rollout: config.Rollout{
			MinSamples:     40,
			MaxExtensions:  50,
			NonInferiority: config.NonInferiority{ErrorRateMargin: 0.1, LatencyMargin: 200 * time.Millisecond},
			Store:          config.Store{Kind: config.StoreMemory},
		},
		Log: config.Log{Level: "error"},
	}
	if storePath != "" {
		c.Rollout.Store = config.Store{Kind: config.StoreBolt, Path: storePath}
	}
	return c
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("APP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// running is a served App.
type running struct {
	*App
	cancel context.CancelFunc
	done   chan error
}

// start builds and serves an App until the test ends (or stop).
func start(t *testing.T, cfg *config.Config, opts Options) *running {
	t.Helper()
	opts.TestMode = true
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.DrainPeriod == 0 {
		opts.DrainPeriod = 50 * time.Millisecond
	}
	listeners(t, cfg, &opts)
	a, err := Build(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{App: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Serve(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop drains the App and waits for Serve; idempotent.
func (r *running) stop() {
	r.cancel()
	if err, ok := <-r.done; ok {
		close(r.done)
		if err != nil {
			panic(fmt.Sprintf("Serve: %v", err))
		}
	}
}

// runRollout starts a rollout with the configured plan and waits up to a
// minute for it to end.
func runRollout(t *testing.T, c *rollout.Controller) rollout.State {
	t.Helper()
	if _, err := c.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return waitPhase(t, c, 60*time.Second, rollout.Completed, rollout.RolledBack, rollout.Aborted)
}

// rollBack runs a rollout that must end rolled back.
func rollBack(t *testing.T, c *rollout.Controller) {
	t.Helper()
	st := runRollout(t, c)
	if st.Phase != rollout.RolledBack {
		t.Fatalf("rollout ended %s, want %s", st.Phase, rollout.RolledBack)
	}
	t.Logf("rolled back at step %d: %s", st.Step, st.Reason)
}

// waitPhase waits for the controller to reach one of phases.
func waitPhase(t *testing.T, c *rollout.Controller, timeout time.Duration, phases ...rollout.Phase) rollout.State {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := c.Status()
		for _, p := range phases {
			if st.Phase == p {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("phase %s (step %d, weight %v, reason %q) after %v, want %v; verdicts: %s",
				st.Phase, st.Step, st.Weight, st.Reason, timeout, phases, lastVerdict(st))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastVerdict(st rollout.State) string {
	if len(st.Verdicts) == 0 {
		return "none"
	}
	v := st.Verdicts[len(st.Verdicts)-1]
	s := fmt.Sprintf("%s:", v.Outcome)
	for _, c := range v.Checks {
		if c.Outcome != rollout.Pass {
			s += fmt.Sprintf(" [%s %s: %s]", c.Name, c.Outcome, c.Detail)
		}
	}
	return s
}

// clients connects n legacy clients through the edge, each subscribed to
// a channel of its own.
func clients(t *testing.T, a *App, n int) []*legacyclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := make([]*legacyclient.Client, n)
	for i := range cs {
		c, err := legacyclient.Dial(ctx, fmt.Sprintf("ws://%s/ws?user=user-%d", a.EdgeAddr(), i), legacyclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.Subscribe(ctx, fmt.Sprintf("room-%d", i), nil); err != nil {
			t.Fatal(err)
		}
		cs[i] = c
	}
	return cs
}

// checkDelivery publishes on every client's channel (from the client) and
// checks that each gets its message.
func checkDelivery(t *testing.T, cs []*legacyclient.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, c := range cs {
		seq, err := c.Publish(ctx, fmt.Sprintf("room-%d", i), []byte(`"after"`))
		if err != nil {
			t.Fatalf("client %d: publish: %v", i, err)
		}
		for {
			select {
			case m := <-c.Messages():
				if m.Seq != seq {
					continue // an earlier message of the channel
				}
			case <-c.Done():
				t.Fatalf("client %d: connection ended: %v", i, c.Err())
			case <-ctx.Done():
				t.Fatalf("client %d: message %d not delivered", i, seq)
			}
			break
		}
	}
}

// listeners opens the edge and admin listeners on loopback ports of their
// own (":0" twice would not pass Validate: the addresses must differ).
func listeners(t testing.TB, cfg *config.Config, opts *Options) {
	t.Helper()
	for _, l := range []struct {
		ln   *net.Listener
		addr *string
	}{{&opts.EdgeListener, &cfg.Listen}, {&opts.AdminListener, &cfg.Admin.Listen}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		*l.ln, *l.addr = ln, ln.Addr().String()
	}
}
