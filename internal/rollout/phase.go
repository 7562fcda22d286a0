package rollout

import (
	"errors"
	"fmt"
	"strings"

	"github.com/baton-rt/baton/internal/router"
)

// Phase is where a rollout stands.
type Phase string

// Phases. Idle is the zero state (no rollout ever started).
const (
	Idle        Phase = "idle"
	Preparing   Phase = "preparing"    // checking green before anyone moves
	Shifting    Phase = "shifting"     // at a step: applying, holding or gating
	Paused      Phase = "paused"       // an operator stopped the clock
	Completed   Phase = "completed"    // everyone on green
	RollingBack Phase = "rolling_back" // moving everyone to blue
	RolledBack  Phase = "rolled_back"  // everyone on blue
	Aborted     Phase = "aborted"      // stopped where it stood
)

// Active reports whether the controller has work to do in phase p (a
// driver runs): preparing, shifting, paused or rolling back.
func (p Phase) Active() bool {
	switch p {
	case Preparing, Shifting, Paused, RollingBack:
		return true
	}
	return false
}

// known reports whether p is one of the phases above.
func (p Phase) known() bool {
	switch p {
	case Idle, Preparing, Shifting, Paused, Completed, RollingBack, RolledBack, Aborted:
		return true
	}
	return false
}

// Op names an operator command, as carried by TransitionError.
type Op string

// Operator commands.
const (
	OpStart     Op = "start"
	OpPause     Op = "pause"
	OpResume    Op = "resume"
	OpPromote   Op = "promote"
	OpRollback  Op = "rollback"
	OpEmergency Op = "emergency_rollback"
	OpAbort     Op = "abort"
	// OpSetWeight is a weight set by hand (Controller.SetWeightByHand),
	// refused while a rollout is active.
	OpSetWeight Op = "set_weight"
)

// allowed lists the phases each command may start from. Emergency rollback
// is also refused while an emergency rollback already runs (see
// Controller.EmergencyRollback).
var allowed = map[Op][]Phase{
	// Start from any phase where no rollout runs: after completion the next
	// green build is rolled out the same way.
	OpStart:   {Idle, Completed, RolledBack, Aborted},
	OpPause:   {Preparing, Shifting},
	OpResume:  {Paused},
	OpPromote: {Shifting, Paused},
	// Rollback also after completion or an abort: problems can show late.
	OpRollback:  {Preparing, Shifting, Paused, Completed, Aborted},
	OpEmergency: {Preparing, Shifting, Paused, Completed, Aborted, RollingBack},
	OpAbort:     {Preparing, Shifting, Paused, RollingBack},
}

func (o Op) allowedFrom(p Phase) bool {
	for _, q := range allowed[o] {
		if q == p {
			return true
		}
	}
	return false
}

// ErrInvalidTransition is matched (errors.Is) by every *TransitionError.
var ErrInvalidTransition = errors.New("rollout: invalid transition")

// TransitionError says a command is not allowed in the current phase. The
// admin API answers it with 409 and the phase.
type TransitionError struct {
	Op    Op
	Phase Phase // the phase the rollout is in
	// Emergency is true when the refusal is because an emergency rollback
	// already runs.
	Emergency bool
	// ByHand is true when the refusal is because a weight set by hand is
	// being applied.
	ByHand bool
}

func (e *TransitionError) Error() string {
	// In words: the admin API's 409 carries this to people.
	op := strings.ReplaceAll(string(e.Op), "_", " ")
	switch {
	case e.Emergency:
		return fmt.Sprintf("rollout: cannot %s: an emergency rollback is already running", op)
	case e.ByHand:
		return fmt.Sprintf("rollout: cannot %s: a weight set by hand is being applied", op)
	}
	return fmt.Sprintf("rollout: cannot %s while %s", op, e.Phase)
}

// Is makes errors.Is(err, ErrInvalidTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// PhaseOf returns the phase carried by err when it is (or wraps) a
// *TransitionError.
func PhaseOf(err error) (Phase, bool) {
	var te *TransitionError
	if errors.As(err, &te) {
		return te.Phase, true
	}
	return "", false
}

// DecreaseError says a start was refused because the plan's first step
// is below the weight the gateway stands at (a completed rollout's 100 %,
// an aborted one's step, a weight set by hand or the config's startup
// weight): that step would move sessions back to blue before any gate,
// which a start is not meant to do. Nothing changed. Override's
// AllowDecrease starts such a rollout anyway. The admin API answers it
// with 409 and the phase.
type DecreaseError struct {
	Phase Phase // the phase the rollout is in (one a start is allowed from)
	// Current is the weight the gateway stands at, First the plan's
	// first step.
	Current, First router.Weight
	// ToBlue is how many sessions First would move back to blue now;
	// Estimated when the shifter cannot count them (MoveCounter) and
	// they are reckoned from the sessions on green.
	ToBlue    int
	Estimated bool
}

func (e *DecreaseError) Error() string {
	var b strings.Builder
	about := ""
	if e.Estimated {
		about = "about "
	}
	fmt.Fprintf(&b, "rollout: cannot start: the weight is %v %% and the plan's first step is %v %%: that step would move %s%d sessions back to blue, before any gate. "+
		"To roll out from blue, set the weight first (baton weight set 0, or PUT /api/v1/weight) and start again",
		e.Current.Percent(), e.First.Percent(), about, e.ToBlue)
	if OpRollback.allowedFrom(e.Phase) {
		b.WriteString("; to move everyone back to blue, use rollback")
	}
	if e.Current < router.Full {
		fmt.Fprintf(&b, "; to go on from here, give steps from %v %% up (--steps)", e.Current.Percent())
	}
	b.WriteString(`; to start this plan anyway, pass "allow_decrease": true (--allow-decrease)`)
	return b.String()
}
