package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
)

// StreamOptions tune GET /api/v1/events. Zero values take the defaults.
type StreamOptions struct {
	// Buffer is each client's queue of transitions. A client that falls
	// behind loses the oldest queued transitions and is told so by a
	// `dropped` event (it can GET /api/v1/rollout to catch up; the next
	// metrics tick carries the state too). Zero means 64.
	Buffer int
	// MetricsInterval is the period of the `metrics` events. Zero means 1s.
	MetricsInterval time.Duration
	// Heartbeat is the period of the comment lines that keep idle proxies
	// from closing a quiet stream. Zero means 15s.
	Heartbeat time.Duration
	// WriteTimeout bounds each write to a client: one that does not take a
	// write within it is disconnected. Zero means 10s.
	WriteTimeout time.Duration
	// MaxClients bounds the open streams; more are answered 503. Zero
	// means 64.
	MaxClients int
}

func (o StreamOptions) withDefaults() StreamOptions {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Buffer <= 0 {
		o.Buffer = rollout.DefaultSubscriptionBuffer
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 64
	}
	def(&o.MetricsInterval, time.Second)
	def(&o.Heartbeat, 15*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	return o
}

// Event names of the stream.
const (
	EventStatus     = "status"     // first event: the rollout's status (RolloutStatus)
	EventTransition = "transition" // a controller transition or verdict (TransitionEvent)
	EventMetrics    = "metrics"    // the periodic tick (Metrics)
	EventDropped    = "dropped"    // transitions were lost (DroppedEvent)
	EventShutdown   = "shutdown"   // the server is stopping; the stream ends
)

// TransitionEvent is the data of a `transition` event. Weight is percent.
type TransitionEvent struct {
	Seq       uint64           `json:"seq"`
	Time      time.Time        `json:"time"`
	Kind      string           `json:"kind"`
	RolloutID string           `json:"rollout_id,omitempty"`
	From      string           `json:"from"`
	To        string           `json:"to"`
	Step      int              `json:"step"`
	Weight    float64          `json:"weight"`
	Message   string           `json:"message,omitempty"`
	Emergency bool             `json:"emergency,omitempty"`
	Moved     int              `json:"moved,omitempty"`
	Failed    int              `json:"failed,omitempty"`
	TookMs    int64            `json:"took_ms,omitempty"`
	Verdict   *rollout.Verdict `json:"verdict,omitempty"`
}

// TransitionOf converts a controller event to its API form.
func TransitionOf(e rollout.Event) TransitionEvent {
	return TransitionEvent{
		Seq: e.Seq, Time: e.Time, Kind: string(e.Kind), RolloutID: e.RolloutID,
		From: string(e.From), To: string(e.To), Step: e.Step, Weight: e.Weight.Percent(),
		Message: e.Message, Emergency: e.Emergency, Moved: e.Moved, Failed: e.Failed,
		TookMs: e.Took.D().Milliseconds(), Verdict: e.Verdict,
	}
}

// DroppedEvent is the data of a `dropped` event: Dropped transitions in
// all were lost on this stream so far.
type DroppedEvent struct {
	Dropped uint64 `json:"dropped"`
}

// streams tracks the open event streams so that Shutdown can end them:
// http.Server.Shutdown does not cancel the requests it waits for.
type streams struct {
	mu     sync.Mutex
	n      int
	closed bool
	done   chan struct{} // closed by close
	wg     sync.WaitGroup

	dropped atomic.Uint64 // transitions dropped, all streams
	slow    atomic.Uint64 // clients disconnected for a failed or late write
}

func (st *streams) init() { st.done = make(chan struct{}) }

var (
	errStreamsClosed = errors.New("the server is shutting down")
	errStreamsFull   = errors.New("too many event streams open")
)

func (st *streams) join(limit int) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.closed:
		return errStreamsClosed
	case st.n >= limit:
		return errStreamsFull
	}
	st.n++
	st.wg.Add(1)
	return nil
}

func (st *streams) leave() {
	st.mu.Lock()
	st.n--
	st.mu.Unlock()
	st.wg.Done()
}

func (st *streams) open() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.n
}

func (st *streams) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.closed {
		st.closed = true
		close(st.done)
	}
}

// Shutdown ends every event stream (each gets a `shutdown` event) and
// waits until their handlers have returned, or ctx ends. Later streams are
// refused with 503; the other endpoints keep working. Call it before
// http.Server.Shutdown, which would otherwise wait for the streams, or
// register it with http.Server.RegisterOnShutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.streams.close()
	done := make(chan struct{})
	go func() {
		s.streams.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// getEvents serves the event stream. Once the headers are out, errors end
// the stream instead of being answered.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	o := s.opts.Stream
	if err := s.streams.join(o.MaxClients); err != nil {
		return &APIError{Status: http.StatusServiceUnavailable, Err: err}
	}
	defer s.streams.leave()

	// Subscribe before the status is read, so that no transition falls
	// between the two.
	var sub EventStream
	if s.opts.Rollout != nil {
		sub = s.opts.Rollout.Subscribe(o.Buffer)
		defer func() { sub.Close() }() // the one in use at the end
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell proxies such as NGINX not to buffer
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: o.WriteTimeout}
	defer func() { _ = sw.rc.SetWriteDeadline(time.Time{}) }()

	err := s.stream(r.Context(), sw, &sub)
	switch {
	case err == nil || errors.Is(err, context.Canceled):
	case errors.Is(err, errStreamsClosed):
		_ = sw.event(EventShutdown, "", struct{}{})
	default:
		s.streams.slow.Add(1)
		s.log.Debug("admin: event stream ended", "remote", r.RemoteAddr, "err", err)
	}
	return nil
}

// stream writes the events until the client leaves (ctx), the server
// shuts down, the controller closes the subscription for good or a write
// fails. *sub is replaced when the rollout's source changes under it.
func (s *Server) stream(ctx context.Context, sw *sseWriter, sub *EventStream) error {
	o := s.opts.Stream
	var events <-chan rollout.Event
	if *sub != nil {
		events = (*sub).C()
		if err := sw.event(EventStatus, "", StatusOf(s.opts.Rollout.Status(), time.Now())); err != nil {
			return err
		}
	}
	if err := sw.event(EventMetrics, "", s.metrics()); err != nil {
		return err
	}
	tick := time.NewTicker(o.MetricsInterval)
	defer tick.Stop()
	beat := time.NewTicker(o.Heartbeat)
	defer beat.Stop()
	// dropped is what the client was told; base, what earlier
	// subscriptions of this stream dropped.
	var dropped, base uint64
	transition := func(e rollout.Event) error {
		if d := base + (*sub).Dropped(); d > dropped {
			s.streams.dropped.Add(d - dropped)
			dropped = d
			if err := sw.event(EventDropped, "", DroppedEvent{Dropped: d}); err != nil {
				return err
			}
		}
		id := ""
		if e.Seq > 0 {
			id = strconv.FormatUint(e.Seq, 10)
		}
		return sw.event(EventTransition, id, TransitionOf(e))
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.streams.done:
			return errStreamsClosed
		case e, ok := <-events:
			if !ok {
				// A gateway on a shared store closes the subscriptions
				// when it takes the store or loses it, and goes on: the
				// stream goes on with the new source, from its status
				// (subscribed first, as at the stream's start). What the
				// new source did before the switch (Resubscriber) comes
				// first, so that the status is no older than the
				// transitions before it. A source that refuses a new
				// subscription has shut down, maybe before the server
				// closes the streams.
				next := s.resubscribe(o.Buffer)
				first, ok, open := peek(next.C())
				if !open {
					next.Close()
					return errStreamsClosed
				}
				base += (*sub).Dropped()
				(*sub).Close()
				*sub, events = next, next.C()
				if ok {
					if err := transition(first); err != nil {
						return err
					}
					if err := drain(events, transition); err != nil {
						return err
					}
				}
				if err := sw.event(EventStatus, "", StatusOf(s.opts.Rollout.Status(), time.Now())); err != nil {
					return err
				}
				continue
			}
			if err := transition(e); err != nil {
				return err
			}
		case <-tick.C:
			m := s.metrics()
			// A tick that shows a new state must not overtake the
			// transition that led there: a client such as rollout watch
			// ends on a terminal state and would never see the event.
			// (The controller offers events just after it publishes the
			// state; a tick read between the two still goes first, and
			// watch then ends on the tick, with the right final status.)
			if err := drain(events, transition); err != nil {
				return err
			}
			if err := sw.event(EventMetrics, "", m); err != nil {
				return err
			}
		case <-beat.C:
			if err := sw.write([]byte(": heartbeat\n\n")); err != nil {
				return err
			}
		}
	}
}

// resubscribe subscribes a stream again after its source changed.
func (s *Server) resubscribe(buffer int) EventStream {
	if r, ok := s.opts.Rollout.(Resubscriber); ok {
		return r.Resubscribe(buffer)
	}
	return s.opts.Rollout.Subscribe(buffer)
}

// peek takes an event already queued on ch without waiting: ok says
// whether there was one, open whether ch is still open.
func peek(ch <-chan rollout.Event) (e rollout.Event, ok, open bool) {
	select {
	case e, ok = <-ch:
		return e, ok, ok
	default:
		return e, false, true
	}
}

// drain sends the events already queued, without waiting for more.
func drain(events <-chan rollout.Event, send func(rollout.Event) error) error {
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return nil // the next select sees the close
			}
			if err := send(e); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// sseWriter writes Server-Sent Events, each flushed at once under a write
// deadline.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     bytes.Buffer
}

func (sw *sseWriter) event(name, id string, v any) error {
	data, err := json.Marshal(v) // one line: JSON strings escape newlines
	if err != nil {
		return err
	}
	sw.buf.Reset()
	sw.buf.WriteString("event: " + name + "\n")
	if id != "" {
		sw.buf.WriteString("id: " + id + "\n")
	}
	sw.buf.WriteString("data: ")
	sw.buf.Write(data)
	sw.buf.WriteString("\n\n")
	return sw.write(sw.buf.Bytes())
}

func (sw *sseWriter) write(b []byte) error {
	// A deadline the writer does not support (a wrapped ResponseWriter)
	// leaves the server's own timeouts in charge.
	if err := sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := sw.w.Write(b); err != nil {
		return err
	}
	return sw.rc.Flush()
}
