package admin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
)

const testToken = "s3cret"

// fakeGateway applies weights instantly and reports fixed counters.
type fakeGateway struct {
	mu       sync.Mutex
	weight   router.Weight
	prepared []router.Weight // the weights PrepareWeight was asked for
}

func (g *fakeGateway) SetWeight(_ context.Context, w router.Weight) (int, int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.weight = w
	return 3, 0, nil
}

func (g *fakeGateway) PrepareWeight(_ context.Context, w router.Weight) (int, int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prepared = append(g.prepared, w)
	return 5, 1, nil
}

func (g *fakeGateway) Status() gateway.Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return gateway.Status{
		Weight:   g.weight,
		Sessions: gateway.SessionCounts{Blue: 70, Green: 30, Detached: 1, Standby: 4},
		Moves:    gateway.MoveCounts{Done: 30, Failed: 2, Canceled: 3, Retried: 7, Drops: 1, Reattached: 4, ReattachFailed: 5, AttachFailed: 6},
		Backends: gateway.BackendStatuses{
			Blue:  gateway.BackendStatus{Protocol: "legacy", Known: true, Up: true},
			Green: gateway.BackendStatus{Protocol: "socketio", Known: true, Up: false, LastError: "refused"},
		},
		Messages: gateway.MessageCounts{
			Duplicates: 1, Gaps: 2, Recovered: 3, RecoveryFailed: 4, Stale: 5,
			Unsequenced: 6, EventsOverlap: 7, EventsDropped: 8, Rejected: 9,
		},
	}
}

func (g *fakeGateway) SessionInfo(string) (session.Info, bool) { return session.Info{}, false }

// fakeRollout is a small state machine with the controller's rules for the
// commands, emitting one event per transition.
type fakeRollout struct {
	mu   sync.Mutex
	st   rollout.State
	subs map[*fakeStream]struct{}
	// dropNext, when set, is reported by Dropped for the next event.
	dropNext uint64
	seq      uint64
	closed   bool // by closeAll: later subscriptions are closed at once
}

func newFakeRollout() *fakeRollout {
	return &fakeRollout{st: rollout.State{Phase: rollout.Idle}, subs: map[*fakeStream]struct{}{}}
}

var fakeAllowed = map[rollout.Op][]rollout.Phase{
	rollout.OpStart:     {rollout.Idle, rollout.Completed, rollout.RolledBack, rollout.Aborted},
	rollout.OpPause:     {rollout.Preparing, rollout.Shifting},
	rollout.OpResume:    {rollout.Paused},
	rollout.OpPromote:   {rollout.Shifting, rollout.Paused},
	rollout.OpRollback:  {rollout.Preparing, rollout.Shifting, rollout.Paused, rollout.Completed, rollout.Aborted},
	rollout.OpEmergency: {rollout.Preparing, rollout.Shifting, rollout.Paused, rollout.Completed, rollout.Aborted, rollout.RollingBack},
	rollout.OpAbort:     {rollout.Preparing, rollout.Shifting, rollout.Paused, rollout.RollingBack},
}

func (f *fakeRollout) command(op rollout.Op, kind rollout.EventKind, fn func(*rollout.State)) (rollout.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := false
	for _, p := range fakeAllowed[op] {
		ok = ok || p == f.st.Phase
	}
	if !ok {
		return f.st, &rollout.TransitionError{Op: op, Phase: f.st.Phase}
	}
	from := f.st.Phase
	fn(&f.st)
	f.st.UpdatedAt = time.Now()
	f.emitLocked(rollout.Event{Kind: kind, From: from, To: f.st.Phase, Step: f.st.Step, Weight: f.st.Weight})
	return f.st, nil
}

// set moves the fake to a phase as the driver would, with an event.
func (f *fakeRollout) set(kind rollout.EventKind, fn func(*rollout.State)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	from := f.st.Phase
	fn(&f.st)
	f.emitLocked(rollout.Event{Kind: kind, From: from, To: f.st.Phase, Step: f.st.Step, Weight: f.st.Weight})
}

func (f *fakeRollout) emitLocked(e rollout.Event) {
	f.seq++
	e.Seq, e.Time, e.RolloutID = f.seq, time.Now(), f.st.ID
	for s := range f.subs {
		s.dropped.Add(f.dropNext)
		s.offer(e)
	}
	f.dropNext = 0
}

func (f *fakeRollout) Start(_ context.Context, o *rollout.Override) (rollout.State, error) {
	plan, err := rollout.NewPlan(config.Rollout{}, o)
	if err != nil {
		return rollout.State{}, err
	}
	return f.command(rollout.OpStart, rollout.EventStarted, func(s *rollout.State) {
		*s = rollout.State{ID: "r1", Phase: rollout.Preparing, Plan: &plan, StartedAt: time.Now()}
	})
}

func (f *fakeRollout) Pause(context.Context) (rollout.State, error) {
	return f.command(rollout.OpPause, rollout.EventPaused, func(s *rollout.State) {
		s.PausedFrom, s.Phase = s.Phase, rollout.Paused
	})
}

func (f *fakeRollout) Resume(context.Context) (rollout.State, error) {
	return f.command(rollout.OpResume, rollout.EventResumed, func(s *rollout.State) {
		s.Phase, s.PausedFrom = s.PausedFrom, ""
	})
}

func (f *fakeRollout) Promote(context.Context) (rollout.State, error) {
	return f.command(rollout.OpPromote, rollout.EventPromoted, func(s *rollout.State) {
		s.Phase, s.Step, s.Weight, s.Promoted = rollout.Shifting, len(s.Plan.Steps), router.Full, true
	})
}

func (f *fakeRollout) Rollback(context.Context) (rollout.State, error) {
	return f.command(rollout.OpRollback, rollout.EventRollbackStarted, func(s *rollout.State) {
		s.Phase, s.Weight = rollout.RollingBack, 0
	})
}

func (f *fakeRollout) EmergencyRollback(context.Context) (rollout.State, error) {
	return f.command(rollout.OpEmergency, rollout.EventRollbackStarted, func(s *rollout.State) {
		s.Phase, s.Weight, s.Emergency = rollout.RollingBack, 0, true
	})
}

func (f *fakeRollout) Abort(context.Context) (rollout.State, error) {
	return f.command(rollout.OpAbort, rollout.EventAborted, func(s *rollout.State) {
		s.Phase, s.EndedAt = rollout.Aborted, time.Now()
	})
}

func (f *fakeRollout) SetWeightByHand(ctx context.Context, _ router.Weight, set func(context.Context) error) error {
	f.mu.Lock()
	ph := f.st.Phase
	f.mu.Unlock()
	if ph.Active() {
		return &rollout.TransitionError{Op: rollout.OpSetWeight, Phase: ph}
	}
	return set(ctx)
}

func (f *fakeRollout) Status() rollout.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeRollout) Subscribe(buffer int) EventStream {
	s := &fakeStream{f: f, ch: make(chan rollout.Event, buffer)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[s] = struct{}{}
	if f.closed {
		s.closeLocked()
	}
	return s
}

func (f *fakeRollout) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// closeAll ends every subscription, and those of later ones, as a
// controller's Close does.
func (f *fakeRollout) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.replaceLocked()
}

// replace ends every subscription but takes new ones, as a gateway on a
// shared store does when it takes the store or loses it.
func (f *fakeRollout) replace() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replaceLocked()
}

func (f *fakeRollout) replaceLocked() {
	for s := range f.subs {
		s.closeLocked()
	}
}

type fakeStream struct {
	f       *fakeRollout
	ch      chan rollout.Event
	dropped atomic.Uint64
	once    sync.Once
}

func (s *fakeStream) C() <-chan rollout.Event { return s.ch }
func (s *fakeStream) Dropped() uint64         { return s.dropped.Load() }

func (s *fakeStream) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.closeLocked()
}

func (s *fakeStream) closeLocked() {
	s.once.Do(func() {
		delete(s.f.subs, s)
		close(s.ch)
	})
}

func (s *fakeStream) offer(e rollout.Event) {
	select {
	case s.ch <- e:
	default:
		select { // drop the oldest
		case <-s.ch:
			s.dropped.Add(1)
		default:
		}
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// fakeHealth reports fixed numbers; green is the slower one.
type fakeHealth struct{}

func (fakeHealth) BackendHealth(c router.Color) BackendHealth {
	h := BackendHealth{
		At: time.Now(), Window: 30 * time.Second, Sessions: 70, Requests: 1000, Errors: 2, ErrorRate: 0.002,
		P50: 5 * time.Millisecond, P95: 20 * time.Millisecond, P99: 40 * time.Millisecond,
		TotalRequests: 5000,
		TotalErrors:   map[string]int64{"error_replies": 7, "ack_timeouts": 1, "not_a_kind": 99},
		Latency: map[string]Latency{
			"request_ack": {Count: 900, P50: 5 * time.Millisecond, P95: 20 * time.Millisecond, P99: 40 * time.Millisecond, Max: 90 * time.Millisecond},
			"user-42":     {Count: 1}, // not a kind: must not become a label value
		},
	}
	if c == router.Green {
		h.Sessions, h.ErrorRate, h.P95, h.P99 = 30, 0.01, 35*time.Millisecond, 60*time.Millisecond
	}
	return h
}

type harness struct {
	t    *testing.T
	srv  *httptest.Server
	api  *Server
	ro   *fakeRollout
	reg  *prometheus.Registry
	gw   *fakeGateway
	opts Options
}

// newHarness serves an API over the fakes on loopback; edit tweaks the
// options first.
func newHarness(t *testing.T, edit func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, ro: newFakeRollout(), reg: prometheus.NewRegistry(), gw: &fakeGateway{}}
	h.opts = Options{
		Gateway: h.gw, Token: testToken, Rollout: h.ro, Health: fakeHealth{}, Registry: h.reg,
		EdgeStats: func() edge.Stats { return edge.Stats{Legacy: 4, SocketIO: 6, Accepted: 11} },
		Stream:    StreamOptions{MetricsInterval: 20 * time.Millisecond},
	}
	if edit != nil {
		edit(&h.opts)
	}
	api, err := New(h.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.api = api
	h.srv = httptest.NewServer(api)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = api.Shutdown(ctx)
		h.srv.Close()
	})
	return h
}

// do sends a request with the token and returns the status and body.
func (h *harness) do(method, path, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
