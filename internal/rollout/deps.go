package rollout

import (
	"context"
	"time"

	"github.com/baton-rt/baton/internal/alert"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store"
)

// Shifter applies weights; *gateway.Gateway is one.
type Shifter interface {
	// SetWeight applies w and returns when the paced moves it causes have
	// ended. It must be idempotent: applying the weight already in place
	// moves nobody. On ctx's end the weight stays applied and ctx's error
	// is returned; but a shifter that ends before applying w (it waited
	// for another change to end) changes nothing and returns an error
	// matching gateway.ErrNotApplied, so that w is not recorded as the
	// weight in force.
	SetWeight(ctx context.Context, w router.Weight) (moved, failed int, err error)
	// Status is a snapshot; the controller reads the sessions per backend.
	Status() gateway.Status
}

// Unpaced, given to PacedShifter.SetWeightPaced, asks for moves as fast as
// the shifter can go (emergency rollback).
const Unpaced = -1

// PacedShifter is a Shifter whose move rate can be chosen per call. The
// controller uses it, when the shifter has it, for the plan's
// MovesPerSecond and for emergency rollbacks; otherwise SetWeight's own
// pacing applies to both.
type PacedShifter interface {
	// SetWeightPaced is SetWeight with at most movesPerSecond moves started
	// per second; 0 means the shifter's default pacing, Unpaced no limit.
	SetWeightPaced(ctx context.Context, w router.Weight, movesPerSecond int) (moved, failed int, err error)
}

// StandbyKeeper is a Shifter that can keep, for each session moved to
// green, its blue connection open and idle (gateway.KeepStandby), making a
// rollback a resubscribe rather than a reconnect. The controller turns it
// on while a rollout is active (rolling back included) and off otherwise.
// KeepStandby must not block.
type StandbyKeeper interface {
	KeepStandby(on bool)
}

// Preparer is a Shifter that can dial ahead the connections a weight
// would move sessions onto (gateway.PrepareWeight), for a plan with
// PrepareNext. It changes no weight; the next SetWeight uses them, and
// closes what it did not use.
type Preparer interface {
	PrepareWeight(ctx context.Context, w router.Weight) (prepared, failed int, err error)
}

// PacedPreparer is a Preparer whose dial rate can be chosen per call. The
// controller uses it, when the shifter has it, so that the plan's
// MovesPerSecond paces the dials that prepare a step as it paces that
// step's moves.
type PacedPreparer interface {
	// PrepareWeightPaced is PrepareWeight with at most movesPerSecond
	// dials started per second; 0 means the shifter's default pacing.
	PrepareWeightPaced(ctx context.Context, w router.Weight, movesPerSecond int) (prepared, failed int, err error)
}

// MoveCounter is a Shifter that can count, moving nobody, the sessions a
// weight would move (gateway.WouldMove). The controller uses it to say
// what a start it refuses would have done (DecreaseError).
type MoveCounter interface {
	WouldMove(w router.Weight) (toBlue, toGreen int)
}

// Prober checks that a backend can take sessions before anyone moves to it:
// it dials the backend and runs one probe (subscribe, publish, deliver).
type Prober interface {
	Probe(ctx context.Context, c router.Color) error
}

// ProberFunc is a function that is a Prober.
type ProberFunc func(ctx context.Context, c router.Color) error

// Probe calls f.
func (f ProberFunc) Probe(ctx context.Context, c router.Color) error { return f(ctx, c) }

// HealthSource is what the gates read.
type HealthSource interface {
	// SnapshotSince returns the backend's measurements recorded since
	// since, at most over the health window (all of it for the zero time).
	// A gate asks from its step's start (StepRecord.StartedAt), so that it
	// judges its step's traffic: with a hold shorter than the window, the
	// window alone would mix in the step before's, at a lower weight.
	// The health package counts in whole seconds: the second that holds
	// since is included whole.
	SnapshotSince(c router.Color, since time.Time) BackendHealth
	// Preservation returns monotonic counters of the moves so far; the
	// controller gates on their increase during each step.
	Preservation() Preservation
}

// BackendHealth is one backend's measurements over the span a gate
// judges ("the window" below): its step's, at most the health window.
type BackendHealth struct {
	// Total operations (requests, subscribes, probe publishes, dials) and
	// how many of them failed.
	Total, Errors int64
	// Latency quantiles of the window (from histograms).
	P50, P95, P99 time.Duration
	// Latencies is how many latency observations the window holds, the
	// count min_samples is checked against; SamplesMs may hold fewer. A
	// source that leaves it 0 is counted by len(SamplesMs).
	Latencies int64
	// SamplesMs are raw latency samples of the window in milliseconds (a
	// bounded reservoir), for the relative tests. The controller does not
	// modify them.
	SamplesMs []float64
	// Others are the window's other latencies that the absolute
	// thresholds bound (request→ack, subscribe→ack, probe
	// publish→deliver, less the one above, which blue is compared on).
	Others []KindLatency
}

// KindLatency is one more latency of a backend's window.
type KindLatency struct {
	Kind     string // e.g. "request_ack"
	Count    int64  // observations in the window
	P95, P99 time.Duration
}

// Preservation counts what handovers kept. Counters only grow (a restart
// may reset them to zero; the controller copes).
type Preservation struct {
	// MovesTried counts moves started; SocketsKept those after which the
	// client still had its socket (successful or cleanly refused moves).
	MovesTried, SocketsKept uint64
	// SubscriptionsTried counts subscriptions carried by moved sessions;
	// SubscriptionsKept those present on the new backend afterwards.
	SubscriptionsTried, SubscriptionsKept uint64
}

// Notifier receives the operator alerts; *alert.Dispatcher is one. Notify
// must not block.
type Notifier interface {
	Notify(alert.Event) error
}

// Store is the part of store.Store the controller uses.
//
// A store that several gateways share may fence the state writes and the
// event appends with this gateway's lease (redisstore.FencedStore): they
// then fail with store.ErrLeaseLost, writing nothing, once another
// gateway holds the store. The controller stops acting on the rollout
// (its driver ends, commands fail with that error); the new holder runs
// it from what it loaded. Such a store is an Unfencer, for the one write
// made whoever holds the lease: an emergency rollback's, its state and
// its events.
type Store interface {
	store.StateStore
	AppendEvent(ctx context.Context, e store.Event) (uint64, error)
}

// Unfencer is a Store whose writes are fenced by a lease.
type Unfencer interface {
	// Unfenced is the same store without the fence.
	Unfenced() store.Store
}
