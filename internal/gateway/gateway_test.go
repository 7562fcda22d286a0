package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

type env struct {
	b           *membroker.Broker
	blue, green *backendtest.Backend
	g           *gateway.Gateway
}

func setup(t *testing.T, weight router.Weight) *env {
	t.Helper()
	return setupWith(t, weight, nil)
}

// setupWith is setup with blue's dialer wrapped by wrapBlue (nil: none).
func setupWith(t *testing.T, weight router.Weight, wrapBlue func(upstream.Dialer) upstream.Dialer) *env {
	t.Helper()
	return setupWrapped(t, weight, wrapBlue, nil)
}

// setupWrapped is setup with each backend's dialer wrapped (nil: none).
func setupWrapped(t *testing.T, weight router.Weight, wrapBlue, wrapGreen func(upstream.Dialer) upstream.Dialer) *env {
	t.Helper()
	return setupOptions(t, weight, wrapBlue, wrapGreen, nil)
}

// setupOptions is setupWrapped with the gateway's options changed by
// change (nil: none).
func setupOptions(t *testing.T, weight router.Weight, wrapBlue, wrapGreen func(upstream.Dialer) upstream.Dialer, change func(*gateway.Options)) *env {
	t.Helper()
	b, err := membroker.New(membroker.Options{HistorySize: 10000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	e := &env{b: b, blue: backendtest.Legacy(t, b), green: backendtest.SocketIO(t, b)}
	table, err := router.NewTable("baton", weight, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	blue, green := e.blue.Dialer(), e.green.Dialer()
	if wrapBlue != nil {
		blue = wrapBlue(blue)
	}
	if wrapGreen != nil {
		green = wrapGreen(green)
	}
	opts := gateway.Options{
		Router:         router.New(table),
		Blue:           blue,
		Green:          green,
		MovesPerSecond: 2000,
		Concurrency:    16,
		// Generous: the tests run under -race on shared, loaded machines.
		Handover:        handover.Options{Timeout: 20 * time.Second},
		ReattachBackoff: 20 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if change != nil {
		change(&opts)
	}
	e.g, err = gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.g.Close(ctx); err != nil {
			t.Errorf("gateway close: %v", err)
		}
	})
	return e
}

// testWriter sends the gateway's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

type client struct {
	s    *session.Session
	sink *sessiontest.Sink
	ch   string
}

// attach opens n sessions of users u0..u(n-1), each subscribed to one of
// channels.
func (e *env) attach(t *testing.T, n int, channels []string) []client {
	t.Helper()
	ctx := testenv.Context(t, 60*time.Second)
	out := make([]client, n)
	for i := range out {
		sink := sessiontest.NewSink()
		s, err := e.g.Attach(ctx, gateway.Identity{User: fmt.Sprintf("u%d", i), Protocol: config.ProtocolLegacy}, sink)
		if err != nil {
			t.Fatal(err)
		}
		ch := channels[i%len(channels)]
		if _, err := s.Subscribe(ctx, ch, 0, false); err != nil {
			t.Fatal(err)
		}
		out[i] = client{s: s, sink: sink, ch: ch}
	}
	return out
}

// stopAndCheck stops the publisher and checks that every client got its
// channel's messages exactly once and in order, from its first up to the
// last published; it returns the last seq of each channel.
func stopAndCheck(t *testing.T, p *sessiontest.Publisher, clients []client) map[string]uint64 {
	t.Helper()
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, last[c.ch], 10*time.Second)
		c.sink.CheckExactly(t, c.ch, c.sink.Seqs(c.ch)[0], last[c.ch])
	}
	return last
}

// checkPlacement compares every session's backend with the router's, and
// the status counts with the buckets.
func (e *env) checkPlacement(t *testing.T, clients []client) {
	t.Helper()
	table := e.g.Router().Table()
	want := map[router.Color]int{}
	for _, c := range clients {
		w := table.Backend(c.s.User())
		want[w]++
		if got, live := c.s.Attached(); got != w || !live {
			t.Errorf("%s: on %v (live %v), router says %v", c.s.User(), got, live, w)
		}
	}
	st := e.g.Status()
	if st.Sessions.Blue != want[router.Blue] || st.Sessions.Green != want[router.Green] || st.Sessions.Detached != 0 {
		t.Errorf("weight %v: status sessions %+v, buckets say blue %d green %d", table.Weight(), st.Sessions, want[router.Blue], want[router.Green])
	}
}

// TestSetWeight walks 0→50→100→0 over 200 sessions under publishing load:
// each step moves exactly the users whose bucket it crosses, and every
// client sees every message once, in order.
func TestSetWeight(t *testing.T) {
	e := setup(t, 0)
	ctx := testenv.Context(t, 60*time.Second)
	channels := []string{"a", "b", "c", "d", "e"}
	clients := e.attach(t, 200, channels)
	e.checkPlacement(t, clients)
	p := sessiontest.Publish(e.b, 5*time.Millisecond, channels...)

	var totalMoved uint64
	prev := router.Weight(0)
	for _, w := range []router.Weight{5000, router.Full, 0} {
		wantMoved := 0
		for _, c := range clients {
			if router.Crosses(prev, w, e.g.Router().Table().Bucket(c.s.User())) {
				wantMoved++
			}
		}
		t0 := time.Now()
		moved, failed, err := e.g.SetWeight(ctx, w)
		t.Logf("weight %v: %d moved in %v", w, moved, time.Since(t0))
		if err != nil || failed != 0 || moved != wantMoved {
			t.Fatalf("weight %v: moved %d failed %d (%v), want %d moved", w, moved, failed, err, wantMoved)
		}
		totalMoved += uint64(moved)
		e.checkPlacement(t, clients)
		prev = w
	}
	last := stopAndCheck(t, p, clients)
	for _, c := range clients {
		if seqs := c.sink.Seqs(c.ch); seqs[0] != 1 {
			t.Errorf("%s: first seq %d, want 1", c.s.User(), seqs[0])
		}
	}
	st := e.g.Status()
	if st.Moves.Done != totalMoved || st.Moves.Failed != 0 || st.Messages.Gaps != 0 {
		t.Errorf("status %+v, want %d moves done, no failure or gap", st, totalMoved)
	}
	if st.Weight != 0 || !st.Backends.Blue.Up || !st.Backends.Green.Up {
		t.Errorf("status %+v", st)
	}
	info, ok := e.g.SessionInfo(clients[0].s.ID())
	if !ok || info.Backend != router.Blue || len(info.Subscriptions) != 1 || info.Subscriptions[0].LastSeq != last[clients[0].ch] {
		t.Errorf("session info %+v, %v", info, ok)
	}
}

// TestSetWeightGreenDown: with green unreachable every move fails and
// every session stays on blue, still served.
func TestSetWeightGreenDown(t *testing.T) {
	e := setup(t, 0)
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 20, []string{"a"})
	e.green.Kill()
	p := sessiontest.Publish(e.b, time.Millisecond, "a")

	moved, failed, err := e.g.SetWeight(ctx, router.Full)
	if err != nil || moved != 0 || failed != len(clients) {
		t.Fatalf("moved %d failed %d (%v), want all %d failed", moved, failed, err, len(clients))
	}
	for _, c := range clients {
		if got, live := c.s.Attached(); got != router.Blue || !live {
			t.Fatalf("%s on %v (live %v) after failed moves", c.s.User(), got, live)
		}
	}
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.sink.WaitSeq(t, "a", last["a"], 10*time.Second)
		c.sink.CheckExactly(t, "a", 1, last["a"])
	}
	st := e.g.Status()
	if st.Moves.Failed != uint64(len(clients)) || st.Backends.Green.Up || st.Sessions.Blue != len(clients) {
		t.Errorf("status %+v", st)
	}
}

// TestBlueKilled: blue dies while sessions sit on it; they are re-attached
// to green with their subscriptions, and their clients see no gap.
func TestBlueKilled(t *testing.T) {
	e := setup(t, 0)
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 30, []string{"a", "b", "c"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b", "c")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}
	e.blue.Kill()

	awaitServedByGreen(t, e, p, clients, "sessions not re-attached")
	if _, err := clients[0].s.Publish(ctx, "a", []byte(`1`)); err != nil {
		t.Fatalf("publish after re-attach: %v", err)
	}
	st := e.g.Status()
	if st.Moves.Reattached != uint64(len(clients)) || st.Moves.ReattachFailed != 0 || st.Backends.Blue.Up {
		t.Errorf("status %+v", st)
	}
}

// TestAttachFallback: a new session whose backend is down lands on the
// other one; with both down it is refused.
func TestAttachFallback(t *testing.T) {
	e := setup(t, 0)
	ctx := testenv.Context(t, 60*time.Second)
	e.blue.Kill()
	sink := sessiontest.NewSink()
	s, err := e.g.Attach(ctx, gateway.Identity{User: "u1"}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if c, live := s.Attached(); c != router.Green || !live {
		t.Fatalf("on %v (live %v), want green", c, live)
	}
	if st := e.g.Status(); st.Moves.Failed != 0 || st.Backends.Blue.Up || !st.Backends.Green.Up {
		t.Errorf("status after a fallback %+v", st)
	}
	e.g.Detach(s)
	if _, ok := e.g.Session(s.ID()); ok {
		t.Fatal("detached session still registered")
	}

	e.green.Kill()
	if _, err := e.g.Attach(ctx, gateway.Identity{User: "u2"}, sessiontest.NewSink()); err == nil {
		t.Fatal("attach with both backends down succeeded")
	}
	if n := len(e.g.Sessions()); n != 0 {
		t.Fatalf("%d sessions left after a failed attach", n)
	}
	if st := e.g.Status(); st.Moves.AttachFailed != 1 {
		t.Errorf("status %+v", st)
	}
	// A client that gives up while it is attached is not a backend's
	// failure.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.g.Attach(gone, gateway.Identity{User: "u3"}, sessiontest.NewSink()); err == nil {
		t.Fatal("attach with an ended context succeeded")
	}
	if st := e.g.Status(); st.Moves.AttachFailed != 1 {
		t.Errorf("attach_failed %d after a client gave up, want 1", st.Moves.AttachFailed)
	}
}

// TestAbandon: a session that no backend can take back is abandoned and
// its client closed with ErrNoBackend.
func TestAbandon(t *testing.T) {
	e := setup(t, 0)
	ctx := testenv.Context(t, 60*time.Second)
	sink := sessiontest.NewSink()
	s, err := e.g.Attach(ctx, gateway.Identity{User: "u1"}, sink)
	if err != nil {
		t.Fatal(err)
	}
	e.green.Kill()
	e.blue.Kill()
	if !sink.WaitFor(20*time.Second, func() bool { c, _ := sink.Closed(); return c }) {
		t.Fatal("client not closed")
	}
	if _, why := sink.Closed(); !errors.Is(why, gateway.ErrNoBackend) {
		t.Fatalf("closed with %v", why)
	}
	if !s.Closed() {
		t.Fatal("session not closed")
	}
	if _, err := s.Publish(ctx, "a", []byte(`1`)); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("publish on an abandoned session: %v", err)
	}
}

// TestAttachDuringSetWeight: sessions attaching while the weight changes
// still end up where the final table says.
func TestAttachDuringSetWeight(t *testing.T) {
	e := setup(t, 0)
	ctx := testenv.Context(t, 60*time.Second)
	var wg sync.WaitGroup
	clients := make([]client, 60)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range clients {
			sink := sessiontest.NewSink()
			s, err := e.g.Attach(ctx, gateway.Identity{User: fmt.Sprintf("v%d", i)}, sink)
			if err != nil {
				t.Error(err)
				return
			}
			clients[i] = client{s: s, sink: sink}
		}
	}()
	for _, w := range []router.Weight{3000, 7000, 5000} {
		if _, failed, err := e.g.SetWeight(ctx, w); err != nil || failed != 0 {
			t.Fatalf("weight %v: %d failed, %v", w, failed, err)
		}
	}
	wg.Wait()
	e.checkPlacement(t, clients)
}

// TestFromConfig builds a gateway from a configuration and serves a
// session with it.
func TestFromConfig(t *testing.T) {
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	blue, green := backendtest.Legacy(t, b), backendtest.SocketIO(t, b)
	cfg := &config.Config{
		Backends: config.Backends{Blue: blue.Config(), Green: green.Config()},
		Routing:  config.Routing{Weight: 100, Salt: "s"},
	}
	cfg.SetDefaults()
	g, err := gateway.FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	ctx := testenv.Context(t, 60*time.Second)
	g.Check(ctx)
	if st := g.Status(); !st.Backends.Blue.Up || !st.Backends.Green.Up || st.Weight != router.Full {
		t.Fatalf("status %+v", st)
	}
	sink := sessiontest.NewSink()
	s, err := g.Attach(ctx, gateway.Identity{User: "u", Protocol: config.ProtocolSocketIO}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, "a", 0, false); err != nil {
		t.Fatal(err)
	}
	seq, err := s.Publish(ctx, "a", []byte(`{"hi":1}`))
	if err != nil {
		t.Fatal(err)
	}
	sink.WaitSeq(t, "a", seq, 10*time.Second)
	if c, _ := s.Attached(); c != router.Green {
		t.Fatalf("on %v at weight 100", c)
	}
}

// awaitServedByGreen waits (20 s at most, loose for loaded machines) for
// every client's session to be on green, where stuck names the failure,
// then checks that green serves them: each gets five more messages, and
// after p stops every message of its channel exactly once, without its
// connection closed.
func awaitServedByGreen(t *testing.T, e *env, p *sessiontest.Publisher, clients []client, stuck string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.g.Status().Sessions.Green != len(clients) {
		if time.Now().After(deadline) {
			t.Fatalf("%s after 20s: %+v", stuck, e.g.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := p.Last("a")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, before+5, 10*time.Second)
	}
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, last[c.ch], 10*time.Second)
		c.sink.CheckExactly(t, c.ch, 1, last[c.ch])
		if closed, why := c.sink.Closed(); closed {
			t.Fatalf("%s: client closed: %v", c.s.User(), why)
		}
	}
}
