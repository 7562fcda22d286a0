package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// openStream opens GET /api/v1/events; the stream ends with ctx.
func (h *harness) openStream(ctx context.Context) (*http.Response, *EventReader) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		h.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp, NewEventReader(resp.Body)
}

// next reads events until one named name, failing after max events.
func next(t *testing.T, er *EventReader, name string, into any) StreamEvent {
	t.Helper()
	for range 200 {
		ev, err := er.Next()
		if err != nil {
			t.Fatalf("waiting for %s: %v", name, err)
		}
		if ev.Name == name {
			if into != nil {
				if err := json.Unmarshal(ev.Data, into); err != nil {
					t.Fatalf("%s data %s: %v", name, ev.Data, err)
				}
			}
			return ev
		}
	}
	t.Fatalf("no %s event", name)
	return StreamEvent{}
}

func TestEventStream(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, er := h.openStream(ctx)

	var st RolloutStatus
	if next(t, er, EventStatus, &st); st.State != "idle" {
		t.Fatalf("first status: %+v", st)
	}
	var m Metrics
	next(t, er, EventMetrics, &m)
	if m.Backends["green"].P99Ms != 60 || m.Sessions.Blue != 70 {
		t.Fatalf("metrics tick: %+v", m)
	}

	if code, body := h.do("POST", "/api/v1/rollout/start", `{"steps":[50,100]}`); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	var tr TransitionEvent
	ev := next(t, er, EventTransition, &tr)
	if tr.Kind != string(rollout.EventStarted) || tr.From != "idle" || tr.To != "preparing" || tr.RolloutID != "r1" || ev.ID != "1" {
		t.Fatalf("transition: id %q %+v", ev.ID, tr)
	}
	// A later tick shows the new state.
	for range 50 {
		next(t, er, EventMetrics, &m)
		if m.Rollout != nil && m.Rollout.State == "preparing" {
			break
		}
	}
	if m.Rollout == nil || m.Rollout.State != "preparing" || m.Rollout.Steps != 2 || m.Rollout.Verdicts != nil {
		t.Fatalf("tick after start: %+v", m.Rollout)
	}

	// The client leaves: the handler ends and unsubscribes.
	cancel()
	testenv.Eventually(t, "stream handler to end", 5*time.Second, func() bool { return h.api.streams.open() == 0 && h.ro.subscribers() == 0 })
}

// gatedHealth holds a metrics tick inside BackendHealth while the test
// is waiting on entered, until release closes.
type gatedHealth struct {
	fakeHealth
	entered, release chan struct{}
}

func (g gatedHealth) BackendHealth(c router.Color) BackendHealth {
	if c == router.Blue {
		select {
		case g.entered <- struct{}{}:
			<-g.release
		default:
		}
	}
	return g.fakeHealth.BackendHealth(c)
}

// A tick that reads a state whose transition is already queued sends the
// transition first: rollout watch ends on a tick showing a terminal state
// and would otherwise never print the event that led there.
func TestEventStreamTickNeverOvertakesATransition(t *testing.T) {
	gate := gatedHealth{entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, func(o *Options) { o.Health = gate })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, er := h.openStream(ctx)
	next(t, er, EventStatus, nil)
	next(t, er, EventMetrics, nil)

	<-gate.entered // a tick is under way, before it reads the rollout
	h.ro.set(rollout.EventCompleted, func(s *rollout.State) { s.Phase = rollout.Completed })
	close(gate.release)
	for range 200 {
		ev, err := er.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name == EventTransition {
			return
		}
		var m Metrics
		if ev.Name == EventMetrics && json.Unmarshal(ev.Data, &m) == nil && m.Rollout != nil && m.Rollout.State == "completed" {
			t.Fatal("a metrics tick showed the completed state before its transition")
		}
	}
	t.Fatal("no transition")
}

func TestEventStreamTellsOfDrops(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, er := h.openStream(ctx)
	next(t, er, EventStatus, nil)
	h.ro.mu.Lock()
	h.ro.dropNext = 5
	h.ro.mu.Unlock()
	h.do("POST", "/api/v1/rollout/start", "")
	var d DroppedEvent
	if next(t, er, EventDropped, &d); d.Dropped != 5 {
		t.Fatalf("dropped: %+v", d)
	}
	next(t, er, EventTransition, nil)
	_, body := h.do("GET", "/metrics", "")
	if !strings.Contains(body, "baton_admin_event_drops_total 5") {
		t.Fatal("drops not counted in /metrics")
	}
}

func TestEventStreamEndsOnShutdown(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, er := h.openStream(ctx)
	next(t, er, EventStatus, nil)
	if err := h.api.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	next(t, er, EventShutdown, nil)
	for range 200 {
		if _, err := er.Next(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("stream ended with %v, want EOF", err)
			}
			break
		}
	}
	if code, _ := h.do("GET", "/api/v1/events", ""); code != 503 {
		t.Fatalf("a stream after shutdown: %d, want 503", code)
	}
	if code, _ := h.do("GET", "/api/v1/rollout", ""); code != 200 {
		t.Fatalf("other endpoints after shutdown: %d", code)
	}
}

func TestEventStreamEndsWhenControllerCloses(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, er := h.openStream(ctx)
	next(t, er, EventStatus, nil)
	h.ro.closeAll()
	// The controller closes only when the server stops: the stream says so.
	next(t, er, EventShutdown, nil)
	for range 200 {
		if _, err := er.Next(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("stream ended with %v, want EOF", err)
			}
			return
		}
	}
	t.Fatal("the stream went on after the controller closed")
}

// TestEventStreamGoesOnWhenItsSourceIsReplaced: a gateway that takes a
// shared store (or loses it) closes its subscriptions and goes on; the
// stream must not tell its client the gateway is shutting down, but go on
// with the new source, from its status.
func TestEventStreamGoesOnWhenItsSourceIsReplaced(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Stream.MetricsInterval = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, er := h.openStream(ctx)
	next(t, er, EventStatus, nil)
	next(t, er, EventMetrics, nil)
	h.ro.replace()
	ev, err := er.Next()
	if err != nil || ev.Name != EventStatus {
		t.Fatalf("after the source was replaced: %s %s, %v; want the new source's status", ev.Name, ev.Data, err)
	}
	h.ro.set(rollout.EventRecovered, func(st *rollout.State) { st.ID, st.Phase, st.Step = "r-new", rollout.Shifting, 2 })
	var tr TransitionEvent
	next(t, er, EventTransition, &tr)
	if tr.Kind != string(rollout.EventRecovered) || tr.RolloutID != "r-new" {
		t.Fatalf("transition %+v, want the new source's recovered", tr)
	}
}

func TestEventStreamHeartbeatAndLimit(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Stream = StreamOptions{MetricsInterval: time.Hour, Heartbeat: 10 * time.Millisecond, MaxClients: 1}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, _ := h.openStream(ctx)
	if code, body := h.do("GET", "/api/v1/events", ""); code != 503 || !strings.Contains(body, "too many") {
		t.Fatalf("second stream over MaxClients 1: %d %s", code, body)
	}
	br := bufio.NewReader(resp.Body)
	for range 100 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ": heartbeat\n" {
			return
		}
	}
	t.Fatal("no heartbeat")
}

func TestEventReader(t *testing.T) {
	in := ": hello\n\nevent: a\nid: 7\ndata: {\"x\":\ndata: 1}\n\n" +
		"data: plain\r\n\r\n" + "event: b\rdata: cr\r\r" + "event: nodata\n\n" + "retry: 5\ndata:x\n\n" + "data: cut"
	er := NewEventReader(strings.NewReader(in))
	want := []StreamEvent{
		{Name: "a", ID: "7", Data: []byte("{\"x\":\n1}")},
		{Name: "message", Data: []byte("plain")},
		{Name: "b", Data: []byte("cr")},
		{Name: "message", Data: []byte("x")},
	}
	for _, w := range want {
		ev, err := er.Next()
		if err != nil || ev.Name != w.Name || ev.ID != w.ID || string(ev.Data) != string(w.Data) {
			t.Fatalf("got %+v %v, want %+v", ev, err, w)
		}
	}
	if _, err := er.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated event: %v", err)
	}
	big := "data: " + strings.Repeat("x", MaxStreamEvent+100) + "\n\n"
	if _, err := NewEventReader(strings.NewReader(big)).Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized event: %v", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("y", 1000)+"\n", MaxStreamEvent/1000+2) + "\n"
	if _, err := NewEventReader(strings.NewReader(many)).Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized multi-line event: %v", err)
	}
}

func FuzzEventReader(f *testing.F) {
	f.Add([]byte("event: transition\nid: 3\ndata: {\"kind\":\"paused\"}\n\n: heartbeat\n\n"))
	f.Add([]byte("data: a\r\ndata: b\r\n\r\nevent: x\rdata: y\r\r"))
	f.Add([]byte("event: metrics\ndata: {}\n\nevent: shutdown\ndata: {}\n\n"))
	f.Add([]byte("data"))
	f.Fuzz(func(t *testing.T, b []byte) {
		er := NewEventReader(strings.NewReader(string(b)))
		var evs []StreamEvent
		for range len(b) + 1 {
			ev, err := er.Next()
			if err != nil {
				checkEventsRoundTrip(t, b, evs)
				return
			}
			if ev.Name == "" || len(ev.Data) > MaxStreamEvent {
				t.Fatalf("bad event %+v", ev)
			}
			evs = append(evs, ev)
		}
		t.Fatal("more events than input bytes")
	})
}

// checkEventsRoundTrip writes evs, read from in, back in the plain form a
// server writes (event:, id: when set, one data: line per line of data)
// and checks that the reader reads them back exactly.
func checkEventsRoundTrip(t *testing.T, in []byte, evs []StreamEvent) {
	t.Helper()
	var out strings.Builder
	for _, ev := range evs {
		out.WriteString("event: " + ev.Name + "\n")
		if ev.ID != "" {
			out.WriteString("id: " + ev.ID + "\n")
		}
		for line := range strings.SplitSeq(string(ev.Data), "\n") {
			out.WriteString("data: " + line + "\n")
		}
		out.WriteString("\n")
	}
	er := NewEventReader(strings.NewReader(out.String()))
	for i, want := range evs {
		got, err := er.Next()
		if err != nil || got.Name != want.Name || got.ID != want.ID || string(got.Data) != string(want.Data) {
			t.Fatalf("%q: event %d %+v written as %q reads back as %+v, %v", in, i, want, out.String(), got, err)
		}
	}
	if ev, err := er.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("%q: written as %q: %+v, %v after the last event; want io.EOF", in, out.String(), ev, err)
	}
}
