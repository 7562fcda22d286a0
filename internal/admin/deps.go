package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
)

// Gateway is what the weight, status and session endpoints operate;
// *gateway.Gateway is one.
type Gateway interface {
	SetWeight(ctx context.Context, w router.Weight) (moved, failed int, err error)
	PrepareWeight(ctx context.Context, w router.Weight) (prepared, failed int, err error)
	Status() gateway.Status
	SessionInfo(id string) (session.Info, bool)
}

var _ Gateway = (*gateway.Gateway)(nil)

// Rollout is the rollout controller as the API drives it. Commands return
// the state after the command; a command not allowed in the current phase
// fails with a *rollout.TransitionError (answered 409 with its phase), a
// start below the current weight with a *rollout.DecreaseError (409 too), a
// bad plan override with an error matching rollout.ErrInvalidPlan (400).
// ControllerRollout adapts a *rollout.Controller.
type Rollout interface {
	Start(ctx context.Context, o *rollout.Override) (rollout.State, error)
	Pause(ctx context.Context) (rollout.State, error)
	Resume(ctx context.Context) (rollout.State, error)
	Promote(ctx context.Context) (rollout.State, error)
	Rollback(ctx context.Context) (rollout.State, error)
	EmergencyRollback(ctx context.Context) (rollout.State, error)
	Abort(ctx context.Context) (rollout.State, error)
	// SetWeightByHand runs set (an operator's change to weight w) unless a
	// rollout is active, when it fails with a *rollout.TransitionError; no
	// rollout starts until set returns. It records w, so that a restart
	// comes back to it. set's context ends with ctx, or sooner when w can
	// no longer be recorded (the gateway lost a shared store): set stops
	// its moves then.
	SetWeightByHand(ctx context.Context, w router.Weight, set func(context.Context) error) error
	// Status returns a copy of the state now.
	Status() rollout.State
	// Subscribe returns the transitions and verdicts from now on.
	Subscribe(buffer int) EventStream
}

// Resubscriber is a Rollout whose source can change under an open event
// stream (a gateway on a shared store that takes it or loses it: the
// old source closes its subscriptions). The stream then subscribes again
// with Resubscribe, whose subscription first delivers what the new source
// published before the switch: with Subscribe, those events (a new
// holder's recovered event) would be lost.
type Resubscriber interface {
	Resubscribe(buffer int) EventStream
}

// EventStream is one subscriber's events. Its channel is bounded (the
// buffer given to Subscribe): when the subscriber falls behind, the oldest
// queued event is dropped and counted in Dropped, so the controller never
// waits for a slow API client. The channel is closed by Close and when the
// controller shuts down.
type EventStream interface {
	C() <-chan rollout.Event
	Dropped() uint64
	Close()
}

// ErrFollowing: this gateway follows the rollout that another gateway's
// controller runs (a shared store); rollout commands and weights set by
// hand go to that gateway. Answered 409.
var ErrFollowing = errors.New("this gateway follows the rollout another gateway runs")

// FollowingError is ErrFollowing naming the gateway to send the request
// to; its 409 carries both names (ErrorBody's Holder and HolderAdmin).
type FollowingError struct {
	// Holder is the holder's name, as its lease gives it.
	Holder string
	// HolderAdmin is the URL of the holder's admin API, the CLI's
	// --admin; "" when the name gives none.
	HolderAdmin string
}

func (e *FollowingError) Error() string {
	msg := fmt.Sprintf("%v: send it to the gateway holding rollout.store, %q", ErrFollowing, e.Holder)
	if e.HolderAdmin != "" {
		msg += ", admin API " + e.HolderAdmin
	}
	return msg
}

// Is makes errors.Is(err, ErrFollowing) hold.
func (e *FollowingError) Is(target error) bool { return target == ErrFollowing }

// ErrTakingOver: this gateway has just taken a shared store and is
// starting the rollout controller; commands and weights set by hand are
// refused until it runs. Answered 503.
var ErrTakingOver = errors.New("this gateway is taking rollout.store over from the gateway that held it; try again in a moment")

// ControllerRollout adapts c to Rollout: only Subscribe differs, returning
// the interface instead of *rollout.Subscription.
func ControllerRollout(c *rollout.Controller) Rollout { return controllerRollout{c} }

type controllerRollout struct{ *rollout.Controller }

func (c controllerRollout) Subscribe(buffer int) EventStream { return c.Controller.Subscribe(buffer) }

// Health gives each backend's health; the command adapts the health
// monitor to it.
type Health interface {
	// BackendHealth returns c's health now (router.Blue or router.Green).
	BackendHealth(c router.Color) BackendHealth
}

// ErrorKinds are the error counters BackendHealth.TotalErrors may hold and
// the kind label values of baton_backend_errors_total. Other keys are
// ignored, which bounds the label's cardinality.
var ErrorKinds = []string{
	"dial_failures", "handshake_failures", "protocol_errors", "error_replies",
	"abnormal_closes", "ack_timeouts", "probe_failures",
}

// LatencyKinds are the latencies BackendHealth.Latency may hold and the
// kind label values of the latency metrics. Other keys are ignored.
var LatencyKinds = []string{"handshake", "request_ack", "subscribe_ack", "probe_delivery"}

// BackendHealth is one backend's health at one moment.
type BackendHealth struct {
	At time.Time
	// Window is the span the windowed values (Requests, Errors, ErrorRate,
	// the latencies) cover.
	Window time.Duration
	// Sessions is the number of sessions on the backend now.
	Sessions int64
	// Requests and Errors are the operations and failures in the window;
	// ErrorRate is the rate the gates read.
	Requests, Errors int64
	ErrorRate        float64
	// P50, P95 and P99 are the latency the gates read, over the window.
	P50, P95, P99 time.Duration
	// Latency breaks the window's latency down by kind (keys from
	// LatencyKinds).
	Latency map[string]Latency
	// TotalRequests and TotalErrors (keys from ErrorKinds) count since the
	// process started; they never decrease.
	TotalRequests int64
	TotalErrors   map[string]int64
	// MemoryBytes is the process's resident memory (0: unknown).
	MemoryBytes uint64
}

// Latency is one latency kind over the health window.
type Latency struct {
	Count              int64
	P50, P95, P99, Max time.Duration
}
