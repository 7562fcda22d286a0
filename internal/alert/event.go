// Package alert sends rollout events to webhooks: Baton's generic JSON, Slack
// incoming webhooks and the PagerDuty Events API v2.
//
// The rollout controller hands every transition to a Dispatcher. Notify never
// waits on the network: each webhook has its own bounded queue (overflow drops
// the oldest event and counts it) and its own worker, which posts with a
// per-attempt timeout and retries network errors, timeouts, 5xx, 408 and 429
// with capped exponential backoff and jitter (or after the receiver's
// Retry-After), one event at a time so the receiver gets them in order. An
// outage (network errors, timeouts, 5xx, 408) is retried for at least the
// configured retries and until the outage timeout after the event's first
// attempt, a throttle (429) until the throttle timeout: a page survives a
// receiver down or rate-limiting for minutes. A failing webhook therefore
// never slows the rollout, nor the other webhooks.
package alert

import (
	"errors"
	"fmt"
	"time"
)

// Kind says which rollout transition an Event reports.
type Kind string

// Event kinds. KindCustom carries anything else the controller wants to tell
// operators; its Message and Details say what.
const (
	KindStarted          Kind = "rollout_started"
	KindStepPassed       Kind = "step_passed"
	KindGateFailed       Kind = "gate_failed"
	KindRollbackStarted  Kind = "rollback_started"
	KindRollbackFinished Kind = "rollback_finished"
	KindCompleted        Kind = "rollout_completed"
	KindAborted          Kind = "rollout_aborted"
	KindCustom           Kind = "custom"
)

// Severity ranks an Event. The values are PagerDuty's, so they pass through
// unchanged.
type Severity string

// Severities, lowest first.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityError    Severity = "error"
	SeverityCritical Severity = "critical"
)

// Sentinel errors.
var (
	// ErrInvalidEvent is returned by Notify for an event it cannot send: an
	// unknown kind or severity.
	ErrInvalidEvent = errors.New("alert: invalid event")
	// ErrClosed is returned by Notify and Close once Close has been called.
	ErrClosed = errors.New("alert: dispatcher closed")
	// ErrConfig is returned by New for an unusable webhook configuration.
	ErrConfig = errors.New("alert: bad configuration")
)

// Event is one rollout transition as the controller reports it.
type Event struct {
	// Kind is required.
	Kind Kind
	// RolloutID names the rollout. PagerDuty alerts are deduplicated per
	// rollout, so a rollback_finished resolves the incident its gate_failed
	// opened.
	RolloutID string
	// Step is the 1-based step number the event is about; 0 means none.
	Step int
	// Weight is the share of users on green, in percent (0 to 100).
	Weight float64
	// Message is a one-line human summary, e.g. "green P95 812ms > 500ms".
	Message string
	// Severity empty means the kind's default (see DefaultSeverity).
	Severity Severity
	// Time is when it happened. Zero means the time Notify is called.
	Time time.Time
	// Details are extra facts (verdict numbers, error text). They are encoded
	// to JSON inside Notify, so the caller may reuse the map afterwards.
	// Values that do not encode are replaced by an error note.
	Details map[string]any
}

// DefaultSeverity is the severity an event of kind k gets when it names none:
// error for a failed gate and a started rollback, warning for a finished
// rollback and an abort, info otherwise.
func DefaultSeverity(k Kind) Severity {
	switch k {
	case KindGateFailed, KindRollbackStarted:
		return SeverityError
	case KindRollbackFinished, KindAborted:
		return SeverityWarning
	default:
		return SeverityInfo
	}
}

// title is a short heading for the kind.
func (k Kind) title() string {
	switch k {
	case KindStarted:
		return "Rollout started"
	case KindStepPassed:
		return "Step passed"
	case KindGateFailed:
		return "Gate failed"
	case KindRollbackStarted:
		return "Rollback started"
	case KindRollbackFinished:
		return "Rollback finished"
	case KindCompleted:
		return "Rollout completed"
	case KindAborted:
		return "Rollout aborted"
	default:
		return "Rollout event"
	}
}

func (k Kind) valid() bool {
	switch k {
	case KindStarted, KindStepPassed, KindGateFailed, KindRollbackStarted,
		KindRollbackFinished, KindCompleted, KindAborted, KindCustom:
		return true
	}
	return false
}

func (s Severity) valid() bool {
	switch s {
	case SeverityInfo, SeverityWarning, SeverityError, SeverityCritical:
		return true
	}
	return false
}

// incident reports whether the severity calls for a page.
func (s Severity) incident() bool { return s == SeverityError || s == SeverityCritical }

// normalize checks ev and fills its defaults.
func normalize(ev Event, now time.Time) (Event, error) {
	if !ev.Kind.valid() {
		return ev, fmt.Errorf("%w: unknown kind %q", ErrInvalidEvent, ev.Kind)
	}
	if ev.Severity == "" {
		ev.Severity = DefaultSeverity(ev.Kind)
	}
	if !ev.Severity.valid() {
		return ev, fmt.Errorf("%w: unknown severity %q", ErrInvalidEvent, ev.Severity)
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	ev.Time = ev.Time.UTC()
	return ev, nil
}
