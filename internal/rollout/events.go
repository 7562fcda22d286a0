package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/baton-rt/baton/internal/alert"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
)

// EventKind names what happened. It is also the store event's Kind.
type EventKind string

// Event kinds. The ones marked "alert" are also sent to the Notifier.
const (
	EventStarted          EventKind = "rollout_started" // alert
	EventGreenReady       EventKind = "green_ready"     // preparing passed
	EventStepStarted      EventKind = "step_started"    // weight about to be applied
	EventStepApplied      EventKind = "step_applied"    // moves ended, hold begins
	EventVerdict          EventKind = "verdict"         // every gate evaluation
	EventStepPassed       EventKind = "step_passed"     // alert
	EventStepExtended     EventKind = "step_extended"   // inconclusive: one more hold
	EventGateFailed       EventKind = "gate_failed"     // alert
	EventPaused           EventKind = "paused"
	EventResumed          EventKind = "resumed"
	EventPromoted         EventKind = "promoted"
	EventRollbackStarted  EventKind = "rollback_started"  // alert (critical when emergency)
	EventRollbackFinished EventKind = "rollback_finished" // alert
	EventCompleted        EventKind = "rollout_completed" // alert
	EventAborted          EventKind = "rollout_aborted"   // alert
	EventRecovered        EventKind = "recovered"         // a restarted controller took the rollout over
	EventReloaded         EventKind = "state_reloaded"    // another writer changed the stored state
)

// Event is one transition or verdict, as logged, stored, alerted and
// delivered to subscribers.
type Event struct {
	// Seq is the event's seq in the store's event log; 0 when the append
	// failed (the event was still logged and delivered).
	Seq       uint64        `json:"seq"`
	Time      time.Time     `json:"time"`
	Kind      EventKind     `json:"kind"`
	RolloutID string        `json:"rollout_id,omitempty"`
	From      Phase         `json:"from"`
	To        Phase         `json:"to"`
	Step      int           `json:"step"`
	Weight    router.Weight `json:"weight"` // basis points
	Message   string        `json:"message,omitempty"`
	Emergency bool          `json:"emergency,omitempty"`
	// Moved and Failed count the moves of a step_applied or
	// rollback_finished event.
	Moved  int `json:"moved,omitempty"`
	Failed int `json:"failed,omitempty"`
	// Took is how long the moves took (step_applied, rollback_finished:
	// from the rollback's start).
	Took    Duration `json:"took,omitempty"`
	Verdict *Verdict `json:"verdict,omitempty"`
	// severity overrides the alert's default severity (alert.Severity).
	severity alert.Severity
}

// alertKinds maps the alerting event kinds to alert kinds.
var alertKinds = map[EventKind]alert.Kind{
	EventStarted:          alert.KindStarted,
	EventStepPassed:       alert.KindStepPassed,
	EventGateFailed:       alert.KindGateFailed,
	EventRollbackStarted:  alert.KindRollbackStarted,
	EventRollbackFinished: alert.KindRollbackFinished,
	EventCompleted:        alert.KindCompleted,
	EventAborted:          alert.KindAborted,
}

// stamp fills in evs' fields from the transition from phase from to st.
func (c *Controller) stamp(from Phase, st State, evs []Event) []Event {
	for i := range evs {
		e := &evs[i]
		e.Time = c.now()
		e.RolloutID = st.ID
		e.From, e.To = from, st.Phase
		e.Step, e.Weight = st.Step, st.Weight
		e.Emergency = e.Emergency || (st.Phase == RollingBack && st.Emergency)
	}
	return evs
}

// emit announces evs (announce), then records them (record).
func (c *Controller) emit(evs []Event) {
	c.announce(evs)
	c.record(evs)
}

// announce logs evs and sends their alerts; neither waits. A transition
// announces its events with mu held, the lock under which it became the
// current state, so log lines and alerts follow the transitions' order.
func (c *Controller) announce(evs []Event) {
	for _, e := range evs {
		c.logEvent(e)
		c.alert(e)
	}
}

// record stores evs, makes the current state the one Status reports, and
// delivers evs to the subscribers. ioMu is held, so events reach the event
// log and the subscribers in transition order; mu is not. (Log lines and
// alerts come from announce, in the order the transitions happened in
// memory: an emergency rollback's at once, possibly ahead of the storing
// of a transition just before it.)
//
// Order matters to readers: events are in the store before Status shows the
// new state (a poller that sees "completed" finds its event), and Status
// shows it before subscribers get the events (an SSE client that reacts to
// an event by asking for the status sees at least that state). An
// emergency rollback is the exception: Status shows it at once.
func (c *Controller) record(evs []Event) { c.recordTo(c.opts.Store, evs) }

// recordTo is record with the events appended to s: the store, or the
// store unfenced.
func (c *Controller) recordTo(s Store, evs []Event) {
	for i := range evs {
		evs[i].Seq = c.appendEvent(s, evs[i])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishSnap()
	for _, e := range evs {
		c.feed.Publish(e)
	}
}

func (c *Controller) appendEvent(s Store, e Event) uint64 {
	data, err := json.Marshal(e)
	if err == nil && len(data) > store.MaxEventDataSize {
		e.Verdict = nil // keep the transition, drop the bulky numbers
		data, err = json.Marshal(e)
	}
	if err != nil {
		c.log.Error("rollout: event not encoded", "kind", e.Kind, "err", err)
		return 0
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.StoreTimeout)
	defer cancel()
	seq, err := s.AppendEvent(ctx, store.Event{Time: e.Time, Kind: string(e.Kind), Data: data})
	if errors.Is(err, store.ErrLeaseLost) {
		// The fence lost the lease: the gateway that holds it now runs
		// the rollout, and this one's next state write is refused too.
		c.log.Error("rollout: event refused, the store is another gateway's now", "kind", e.Kind, "err", err)
		return 0
	}
	if err != nil {
		c.log.Warn("rollout: event not stored", "kind", e.Kind, "err", err)
		return 0
	}
	return seq
}

func (c *Controller) logEvent(e Event) {
	level := slog.LevelInfo
	switch e.Kind {
	case EventGateFailed, EventRollbackStarted:
		level = slog.LevelError
	case EventStepExtended, EventAborted, EventRollbackFinished, EventReloaded:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("kind", string(e.Kind)), slog.String("rollout", e.RolloutID),
		slog.String("from", string(e.From)), slog.String("to", string(e.To)),
		slog.Int("step", e.Step), slog.Float64("weight_percent", e.Weight.Percent()),
	}
	if e.Message != "" {
		attrs = append(attrs, slog.String("message", e.Message))
	}
	if e.Emergency {
		attrs = append(attrs, slog.Bool("emergency", true))
	}
	if e.Kind == EventStepApplied || e.Kind == EventRollbackFinished {
		attrs = append(attrs, slog.Int("moved", e.Moved), slog.Int("failed", e.Failed), slog.Duration("took", e.Took.D()))
	}
	if v := e.Verdict; v != nil {
		attrs = append(attrs, slog.Group("verdict",
			slog.String("outcome", string(v.Outcome)), slog.Int("extension", v.Extension),
			slog.Float64("green_error_rate", v.Green.ErrorRate), slog.Float64("blue_error_rate", v.Blue.ErrorRate),
			slog.Duration("green_p95", v.Green.P95.D()), slog.Duration("blue_p95", v.Blue.P95.D()),
			slog.Int64("green_total", v.Green.Total), slog.Int64("blue_total", v.Blue.Total),
			slog.Any("reasons", logReasons(v.Reasons))))
	}
	c.log.LogAttrs(c.ctx, level, "rollout: "+string(e.Kind), attrs...)
}

// logReasons are a verdict's reasons in a log line: a list in JSON (the
// JSON handler takes MarshalJSON), joined by "; " in text (the text
// handler takes MarshalText), where Go's "[a b]" would run one reason
// into the next.
type logReasons []string

func (r logReasons) MarshalJSON() ([]byte, error) { return json.Marshal([]string(r)) }

func (r logReasons) MarshalText() ([]byte, error) { return []byte(strings.Join(r, "; ")), nil }

func (c *Controller) alert(e Event) {
	kind, ok := alertKinds[e.Kind]
	if !ok || c.opts.Notifier == nil {
		return
	}
	a := alert.Event{
		Kind: kind, RolloutID: e.RolloutID, Step: e.Step, Weight: e.Weight.Percent(),
		Message: e.Message, Time: e.Time,
		Details: map[string]any{"from": e.From, "to": e.To},
	}
	a.Severity = e.severity
	if e.Emergency && kind == alert.KindRollbackStarted {
		a.Severity = alert.SeverityCritical
	}
	if e.Verdict != nil {
		a.Details["verdict"] = e.Verdict
	}
	if e.Kind == EventRollbackFinished {
		a.Details["moved"], a.Details["failed"], a.Details["took"] = e.Moved, e.Failed, e.Took.String()
	}
	if err := c.opts.Notifier.Notify(a); err != nil {
		c.log.Warn("rollout: alert not sent", "kind", kind, "err", err)
	}
}

// Subscribe returns a subscription to every later event, with a channel of
// buffer events (0 means DefaultSubscriptionBuffer). Close it when done;
// the controller's Close closes every subscription's channel.
func (c *Controller) Subscribe(buffer int) *Subscription { return c.feed.Subscribe(buffer) }

// SubscribeWithHistory is Subscribe with the events published so far
// queued first (Feed.SubscribeWithHistory): for a stream that switches to
// this controller once it runs, which must not miss what it did before
// (its recovered event, when it resumed a rollout).
func (c *Controller) SubscribeWithHistory(buffer int) *Subscription {
	return c.feed.SubscribeWithHistory(buffer)
}
