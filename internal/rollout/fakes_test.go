package rollout

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/alert"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/memstore"
)

// The real packages satisfy the controller's interfaces.
var (
	_ Shifter       = (*gateway.Gateway)(nil)
	_ PacedPreparer = (*gateway.Gateway)(nil)
	_ Preparer      = (*gateway.Gateway)(nil)
	_ MoveCounter   = (*gateway.Gateway)(nil)
	_ Notifier      = (*alert.Dispatcher)(nil)
	_ Store         = store.Store(nil)
)

// fakeShifter records every weight applied. sessions users are placed by
// weight. A weight in block makes SetWeight wait for its ctx (a move that
// never ends); a weight in fail reports that many failed moves once.
type fakeShifter struct {
	sessions int

	mu     sync.Mutex
	weight router.Weight
	calls  []router.Weight
	paces  []int
	block  map[router.Weight]bool
	fail   map[router.Weight]int
	called chan router.Weight // every call, if not nil (buffered)
	// standby is the last KeepStandby; standbyAt records it at each call.
	standby   bool
	standbyAt []bool
	// prepares records each PrepareWeight: the weight asked for and the
	// weight applied at the time; preparePaces its pace (0: the
	// shifter's own).
	prepares     [][2]router.Weight
	preparePaces []int
	// before, if set, runs first in each SetWeight (as the gateway first
	// waits for the weight lock); its error is returned, nothing applied.
	before func(ctx context.Context, w router.Weight) error
	// onStatus, if set, runs first in each Status.
	onStatus func()
}

func (f *fakeShifter) PrepareWeight(ctx context.Context, w router.Weight) (int, int, error) {
	return f.PrepareWeightPaced(ctx, w, 0)
}

func (f *fakeShifter) PrepareWeightPaced(_ context.Context, w router.Weight, pace int) (int, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prepares = append(f.prepares, [2]router.Weight{w, f.weight})
	f.preparePaces = append(f.preparePaces, pace)
	return abs(int(w)-int(f.weight)) * f.sessions / int(router.Full), 0, nil
}

func (f *fakeShifter) PreparePaces() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.preparePaces)
}

func (f *fakeShifter) Prepares() [][2]router.Weight {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.prepares)
}

func (f *fakeShifter) KeepStandby(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.standby = on
}

func (f *fakeShifter) standbys() (now bool, atCalls []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.standby, slices.Clone(f.standbyAt)
}

func newShifter() *fakeShifter {
	return &fakeShifter{sessions: 1000, block: map[router.Weight]bool{}, fail: map[router.Weight]int{}}
}

func (f *fakeShifter) SetWeight(ctx context.Context, w router.Weight) (int, int, error) {
	return f.SetWeightPaced(ctx, w, 0)
}

func (f *fakeShifter) SetWeightPaced(ctx context.Context, w router.Weight, pace int) (int, int, error) {
	if f.before != nil {
		if err := f.before(ctx, w); err != nil {
			return 0, 0, err
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, w)
	f.paces = append(f.paces, pace)
	f.standbyAt = append(f.standbyAt, f.standby)
	prev := f.weight
	f.weight = w // like the gateway: the weight is applied before the moves
	block := f.block[w]
	failed := f.fail[w]
	delete(f.fail, w)
	called := f.called
	f.mu.Unlock()
	if called != nil {
		called <- w
	}
	if block {
		<-ctx.Done()
		return 0, 0, ctx.Err()
	}
	moved := abs(int(w)-int(prev)) * f.sessions / int(router.Full)
	return moved - failed, failed, nil
}

func (f *fakeShifter) Status() gateway.Status {
	if f.onStatus != nil {
		f.onStatus()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	green := int(f.weight) * f.sessions / int(router.Full)
	return gateway.Status{Weight: f.weight, Sessions: gateway.SessionCounts{Green: green, Blue: f.sessions - green}}
}

func (f *fakeShifter) Calls() []router.Weight {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeShifter) Paces() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.paces)
}

func (f *fakeShifter) setBlock(w router.Weight, b bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block[w] = b
}

func abs(x int) int { return max(x, -x) }

// fakeHealth serves fixed measurements.
type fakeHealth struct {
	mu          sync.Mutex
	green, blue BackendHealth
	pres        Preservation
	since       []time.Time // of every SnapshotSince
}

// sinces returns the since of every SnapshotSince so far.
func (f *fakeHealth) sinces() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.since)
}

// healthy returns n operations without errors and up to 200 latency
// samples spread over 10-29ms, shifted by extra.
func healthy(n int, extra time.Duration) BackendHealth {
	h := BackendHealth{Total: int64(n)}
	for i := range min(n, 200) {
		h.SamplesMs = append(h.SamplesMs, ms(10*time.Millisecond+time.Duration(i%20)*time.Millisecond+extra))
	}
	return h
}

func newHealth() *fakeHealth {
	return &fakeHealth{green: healthy(1000, 0), blue: healthy(1000, 0)}
}

func (f *fakeHealth) SnapshotSince(c router.Color, since time.Time) BackendHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.since = append(f.since, since)
	if c == router.Green {
		return f.green
	}
	return f.blue
}

func (f *fakeHealth) Preservation() Preservation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pres
}

func (f *fakeHealth) setGreen(h BackendHealth) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.green = h
}

// fakeProber answers err.
type fakeProber struct{ err error }

func (p fakeProber) Probe(ctx context.Context, c router.Color) error { return p.err }

// fakeNotifier records alerts.
type fakeNotifier struct {
	mu     sync.Mutex
	events []alert.Event
}

func (n *fakeNotifier) Notify(e alert.Event) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
	return nil
}

func (n *fakeNotifier) kinds() []alert.Kind {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []alert.Kind
	for _, e := range n.events {
		out = append(out, e.Kind)
	}
	return out
}

// harness is a controller on fakes and a memory store.
type harness struct {
	t        *testing.T
	shifter  *fakeShifter
	health   *fakeHealth
	store    Store
	notifier *fakeNotifier
	opts     Options
	c        *Controller
}

// testPlan is the default plan with short holds and two extensions.
func testPlan() config.Rollout {
	return config.Rollout{Hold: 5 * time.Millisecond, MaxExtensions: 2, Store: config.Store{Kind: config.StoreMemory}}
}

func newHarness(t *testing.T, mods ...func(*Options)) *harness {
	t.Helper()
	ms, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close() })
	h := &harness{t: t, shifter: newShifter(), health: newHealth(), store: ms, notifier: &fakeNotifier{}}
	h.opts = Options{
		Plan: testPlan(), Shifter: h.shifter, Health: h.health, Prober: fakeProber{},
		Store: ms, Notifier: h.notifier, RetryBackoff: 5 * time.Millisecond,
	}
	for _, m := range mods {
		m(&h.opts)
	}
	h.c = h.open()
	return h
}

// open starts a controller on the harness's options (a "restart" when one
// ran before).
func (h *harness) open() *Controller {
	h.t.Helper()
	c, err := New(context.Background(), h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

// startStuckAt starts a rollout whose moves to w never end by themselves
// and returns once the controller has begun them.
func (h *harness) startStuckAt(w router.Weight) {
	h.t.Helper()
	h.shifter.setBlock(w, true)
	h.shifter.called = make(chan router.Weight, 16)
	if _, err := h.c.Start(ctx, nil); err != nil {
		h.t.Fatal(err)
	}
	for got := range h.shifter.called {
		if got == w {
			break
		}
	}
}

// waitFor polls until cond holds on the controller's status, for at most
// 30s.
func (h *harness) waitFor(c *Controller, what string, cond func(State) bool) State {
	h.t.Helper()
	// A bound for a hang, not a speed: a CI run with the machine shared
	// ran this package 4.6 times slower than alone, and three waits of
	// 10 s gave up on steps that take 2 s here.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := c.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; state %s step %d weight %v reason %q", what, st.Phase, st.Step, st.Weight, st.Reason)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) waitPhase(c *Controller, p Phase) State {
	h.t.Helper()
	return h.waitFor(c, string(p), func(s State) bool { return s.Phase == p })
}

// waitApplied waits until step n's weight is applied and its hold runs.
func (h *harness) waitApplied(c *Controller, n int) State {
	h.t.Helper()
	return h.waitFor(c, "step applied", func(s State) bool { return s.Phase == Shifting && s.Step == n && s.Applied })
}

// storedEvents lists the event log's kinds.
func (h *harness) storedEvents() []Event {
	h.t.Helper()
	es, err := h.store.(store.Store).ListEvents(context.Background(), 0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []Event
	for _, e := range es {
		var ev Event
		if err := json.Unmarshal(e.Data, &ev); err != nil {
			h.t.Fatalf("event %d: %v", e.Seq, err)
		}
		if string(ev.Kind) != e.Kind {
			h.t.Fatalf("event %d: kind %q in data, %q in store", e.Seq, ev.Kind, e.Kind)
		}
		out = append(out, ev)
	}
	return out
}

func count[T comparable](xs []T, x T) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

func eventKinds(es []Event) []EventKind {
	out := make([]EventKind, len(es))
	for i, e := range es {
		out[i] = e.Kind
	}
	return out
}
