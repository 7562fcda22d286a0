package handover_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

var channels = []string{"a", "b", "c"}

// env is blue (legacy) and green (Socket.IO) over one broker, and a
// session with a recording sink attached to blue and subscribed to
// channels.
type env struct {
	b           broker.Broker // where the test publishes
	blue, green *backendtest.Backend
	sink        *sessiontest.Sink
	s           *session.Session
	dropped     chan error
}

func (e *env) dialer(c router.Color) upstream.Dialer {
	if c == router.Green {
		return e.green.Dialer()
	}
	return e.blue.Dialer()
}

// killBlue kills blue under the session and waits for the drop to be
// reported.
func (e *env) killBlue(t *testing.T) {
	t.Helper()
	e.blue.Kill()
	select {
	case <-e.dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("the drop was not reported")
	}
}

func setup(t *testing.T) *env {
	t.Helper()
	b, err := membroker.New(membroker.Options{HistorySize: 10000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return setupWith(t, b, b, b)
}

// setupWith runs blue on blueB, green on greenB, and publishes on pubB;
// the three must be views of the same channels.
func setupWith(t *testing.T, blueB, greenB, pubB broker.Broker) *env {
	t.Helper()
	e := &env{b: pubB, blue: backendtest.Legacy(t, blueB), green: backendtest.SocketIO(t, greenB), sink: sessiontest.NewSink(), dropped: make(chan error, 4)}
	var err error
	e.s, err = session.New(session.Options{User: "u1", Protocol: config.ProtocolLegacy, Sink: e.sink,
		OnDrop: func(_ *session.Session, err error) { e.dropped <- err }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.s.Close)
	ctx := testenv.Context(t, 30*time.Second)
	if err := handover.Attach(ctx, e.s, router.Blue, e.blue.Dialer(), handover.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range channels {
		if _, err := e.s.Subscribe(ctx, ch, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// progress waits until every channel has delivered at least n more
// messages than now.
func (e *env) progress(t *testing.T, n uint64) {
	t.Helper()
	for _, ch := range channels {
		e.sink.WaitSeq(t, ch, e.sink.Last(ch)+n, 10*time.Second)
	}
}

// finish stops the publisher and checks that every channel delivered
// exactly 1..last.
func (e *env) finish(t *testing.T, p *sessiontest.Publisher) {
	t.Helper()
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range channels {
		e.sink.WaitSeq(t, ch, last[ch], 10*time.Second)
		e.sink.CheckExactly(t, ch, 1, last[ch])
	}
}

func color(s *session.Session) router.Color {
	c, live := s.Attached()
	if !live {
		return router.Color(99)
	}
	return c
}

// TestMoveUnderLoad moves a session blue→green→blue while every channel
// is being published to: the client sees each seq once, in order.
func TestMoveUnderLoad(t *testing.T) { moveUnderLoad(t, setup(t)) }

// TestMoveUnderLoadRedis is TestMoveUnderLoad with blue, green and the
// publisher on three Redis brokers sharing one Redis, as three processes
// would.
func TestMoveUnderLoadRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	prefix := fmt.Sprintf("baton-handover-test-%d:", time.Now().UnixNano())
	var bs [3]broker.Broker
	for i := range bs {
		b, err := redisbroker.New(testenv.Context(t, 30*time.Second), redisbroker.Options{Addr: addr, Prefix: prefix, HistorySize: 10000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		bs[i] = b
	}
	moveUnderLoad(t, setupWith(t, bs[0], bs[1], bs[2]))
}

func moveUnderLoad(t *testing.T, e *env) {
	ctx := testenv.Context(t, 30*time.Second)
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 20)

	moved, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), handover.Options{})
	if err != nil || !moved {
		t.Fatalf("move to green: %v, %v", moved, err)
	}
	if c := color(e.s); c != router.Green {
		t.Fatalf("after move: on %v", c)
	}
	e.progress(t, 20)
	if moved, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), handover.Options{}); err != nil || moved {
		t.Fatalf("move to where it is: %v, %v", moved, err)
	}

	if _, err := handover.Move(ctx, e.s, router.Blue, e.blue.Dialer(), handover.Options{}); err != nil {
		t.Fatalf("move back: %v", err)
	}
	e.progress(t, 20)
	e.finish(t, p)
	c := e.s.Counters()
	t.Logf("delivered a..c up to %d/%d/%d; duplicates %d, gaps %d, stale %d", e.sink.Last("a"), e.sink.Last("b"), e.sink.Last("c"),
		c.Duplicates.Load(), c.Gaps.Load(), c.Stale.Load())
	if c.Gaps.Load() != 0 {
		t.Errorf("%d gaps", c.Gaps.Load())
	}

	// The old connections were closed: only the session's blue one is left.
	waitConns(t, e.green, 0)
	waitConns(t, e.blue, 1)
	if info := e.s.Info(); info.Backend != router.Blue || len(info.Subscriptions) != 3 {
		t.Fatalf("info %+v", info)
	}
	select {
	case err := <-e.dropped:
		t.Fatalf("a deliberate close was reported as a drop: %v", err)
	default:
	}
}

func waitConns(t *testing.T, be *backendtest.Backend, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for be.Conns() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s backend holds %d connections, want %d", be.Protocol, be.Conns(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMoveDialFailure: with green gone the move fails at dial and the
// session stays on blue, still receiving everything.
func TestMoveDialFailure(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 5)
	e.green.Kill()

	_, err := handover.Move(ctx, e.s, router.Green, e.green.Dialer(), handover.Options{})
	var he *handover.Error
	if !errors.As(err, &he) || he.Stage != handover.StageDial {
		t.Fatalf("move to a dead green: %v, want a dial error", err)
	}
	if c := color(e.s); c != router.Blue {
		t.Fatalf("after a failed move: on %v", c)
	}
	e.progress(t, 10)
	e.finish(t, p)
}

// wrapDialer dials through Dialer and hands each connection, with its
// handler, to wrap: how a test changes what a backend does.
type wrapDialer struct {
	upstream.Dialer
	wrap func(upstream.Conn, upstream.Handler) upstream.Conn
}

func (d wrapDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	c, err := d.Dialer.Dial(ctx, h)
	if err != nil {
		return nil, err
	}
	return d.wrap(c, h), nil
}

// failingConn refuses the subscribe of one channel, after the others
// were subscribed and overlapping.
type failingConn struct {
	upstream.Conn
	channel string
	code    string // the refusal's code; "" is history_gone
}

func (c failingConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (upstream.Position, error) {
	if channel == c.channel {
		time.Sleep(20 * time.Millisecond) // let the other channels overlap for a while
		code := cmp.Or(c.code, "history_gone")
		return upstream.Position{}, &upstream.RemoteError{Code: code, Message: "test", Channel: channel}
	}
	return c.Conn.Subscribe(ctx, channel, since, hasSince)
}

// TestMoveSubscribeFailure: one channel refused on green aborts the move;
// the channels already overlapping on green lose nothing on the way back.
func TestMoveSubscribeFailure(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 5)

	_, err := handover.Move(ctx, e.s, router.Green, wrapDialer{e.green.Dialer(), func(c upstream.Conn, _ upstream.Handler) upstream.Conn { return failingConn{Conn: c, channel: "b"} }}, handover.Options{})
	var he *handover.Error
	if !errors.As(err, &he) || he.Stage != handover.StageSubscribe || he.Channel != "b" || !upstream.IsCode(err, "history_gone") {
		t.Fatalf("move: %v, want the subscribe of b refused", err)
	}
	if c := color(e.s); c != router.Blue {
		t.Fatalf("after a failed move: on %v", c)
	}
	waitConns(t, e.green, 0)
	e.progress(t, 10)
	e.finish(t, p)
}

// TestMoveTimeout: a move that cannot finish in time fails and leaves the
// session where it was.
func TestMoveTimeout(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	slow := slowDialer(e.green.Dialer())
	_, err := handover.Move(ctx, e.s, router.Green, slow, handover.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("move: %v, want a deadline error", err)
	}
	if c := color(e.s); c != router.Blue {
		t.Fatalf("after a timed-out move: on %v", c)
	}
	waitConns(t, e.green, 0)
}

// slowDialer's connections never answer a subscribe.
func slowDialer(d upstream.Dialer) upstream.Dialer {
	return wrapDialer{d, func(c upstream.Conn, _ upstream.Handler) upstream.Conn { return slowConn{c} }}
}

type slowConn struct{ upstream.Conn }

func (c slowConn) Subscribe(ctx context.Context, _ string, _ uint64, _ bool) (upstream.Position, error) {
	<-ctx.Done()
	return upstream.Position{}, ctx.Err()
}

// TestReattach: blue dies under the session; re-attaching (blue first,
// then green) restores every channel from its last seq.
func TestReattach(t *testing.T) {
	e := setup(t)
	ctx := testenv.Context(t, 30*time.Second)
	p := sessiontest.Publish(e.b, time.Millisecond, channels...)
	e.progress(t, 5)
	e.blue.Kill()
	select {
	case err := <-e.dropped:
		if err == nil {
			t.Fatal("drop reported without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the drop was not reported")
	}
	if _, live := e.s.Attached(); live {
		t.Fatal("session still attached to a dead connection")
	}
	to, err := handover.Reattach(ctx, e.s, router.Blue, e.dialer, handover.Options{})
	if err != nil || to != router.Green {
		t.Fatalf("reattach: %v, %v", to, err)
	}
	if c := color(e.s); c != router.Green {
		t.Fatalf("after reattach: on %v", c)
	}
	e.progress(t, 10)
	e.finish(t, p)
	// A publish goes through the new backend.
	if seq, err := e.s.Publish(ctx, "a", []byte(`"x"`)); err != nil || seq == 0 {
		t.Fatalf("publish after reattach: %d, %v", seq, err)
	}
}

// TestPacer: starts are spaced by the rate and never exceed the
// concurrency, and each index runs once (on workers that run one call
// after another).
func TestPacer(t *testing.T) {
	p := handover.NewPacer(200, 2)
	var calls concurrency
	start := time.Now()
	const n = 21
	ran := make([]int, n)
	err := p.Each(context.Background(), n, func(_ context.Context, i int) {
		calls.mu.Lock()
		ran[i]++
		calls.mu.Unlock()
		calls.run(2 * time.Millisecond)
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.peak > 2 {
		t.Errorf("peak concurrency %d, want <= 2", calls.peak)
	}
	for i, k := range ran {
		if k != 1 {
			t.Errorf("index %d ran %d times, want 1", i, k)
		}
	}
	// n starts at 200/s are spread over at least (n-1)/200 s, less the
	// pacer's 1 ms slack.
	if el := time.Since(start); el < (n-1)*5*time.Millisecond-time.Millisecond {
		t.Errorf("%d starts took %v, faster than the rate allows", n, el)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Each(ctx, 5, func(context.Context, int) { t.Error("ran after cancel") }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Each with a canceled context: %v", err)
	}
}

// TestPacerConcurrency: calls that last far longer than the spacing of
// their starts run exactly as many at once as the concurrency allows.
// (In TestPacer each call ends before the next one starts.)
func TestPacerConcurrency(t *testing.T) {
	p := handover.NewPacer(10000, 2)
	var calls concurrency
	err := p.Each(context.Background(), 8, func(context.Context, int) { calls.run(20 * time.Millisecond) })
	if err != nil {
		t.Fatal(err)
	}
	if calls.peak != 2 {
		t.Errorf("peak concurrency %d, want 2", calls.peak)
	}
}

// concurrency counts the calls of run that overlap, and the most at once.
type concurrency struct {
	mu            sync.Mutex
	running, peak int
}

// run takes d, counted as running meanwhile.
func (c *concurrency) run(d time.Duration) {
	c.mu.Lock()
	c.running++
	c.peak = max(c.peak, c.running)
	c.mu.Unlock()
	time.Sleep(d)
	c.mu.Lock()
	c.running--
	c.mu.Unlock()
}
