package rollout

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

// maxVerdicts bounds State.Verdicts (newest kept), so the stored blob stays
// small however many extensions a plan allows.
const maxVerdicts = 32

// stateSchema versions the stored blob; a controller refuses a blob from a
// newer schema rather than misreading it.
const stateSchema = 1

// State is the rollout as stored and as Status reports it. It is a value:
// Status returns a copy the caller may keep.
type State struct {
	Schema int    `json:"schema"`
	ID     string `json:"id,omitempty"` // names this rollout; empty while idle
	Phase  Phase  `json:"phase"`
	Plan   *Plan  `json:"plan,omitempty"`
	// Step is the current step, 1-based; 0 before the first.
	Step int `json:"step"`
	// Weight is the weight the controller applies (or applied) in this
	// phase, in basis points (2500 is 25 %): while preparing, the weight
	// the gateway stood at when the rollout started (nobody moves yet);
	// then the step's weight, Full on promote, 0 when rolling back.
	Weight router.Weight `json:"weight"`
	// Applied is true once SetWeight for Weight returned.
	Applied bool `json:"applied"`
	// HoldUntil is when the step's hold ends (set once Applied).
	HoldUntil time.Time `json:"hold_until,omitzero"`
	// Extensions counts the inconclusive extensions used at this step.
	Extensions int `json:"extensions"`
	// Promoted: the operator skipped to 100 %; no more gates.
	Promoted bool `json:"promoted,omitempty"`
	// Emergency: rolling back as fast as the shifter can.
	Emergency bool `json:"emergency,omitempty"`
	// PausedFrom and HoldLeft remember what Resume continues.
	PausedFrom Phase    `json:"paused_from,omitempty"`
	HoldLeft   Duration `json:"hold_left,omitempty"`
	// Reason says why the rollout left its normal course (gate failure,
	// operator command).
	Reason string `json:"reason,omitempty"`
	// Baseline is the preservation counters when the step began, before
	// any of its moves (State.beginStep).
	Baseline Preservation `json:"baseline"`

	StartedAt time.Time `json:"started_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// RollbackAt is when the current rollback began.
	RollbackAt time.Time `json:"rollback_at,omitzero"`
	// Steps records each step entered, in order.
	Steps []StepRecord `json:"steps,omitempty"`
	// Verdicts are the newest gate verdicts, oldest first.
	Verdicts []Verdict `json:"verdicts,omitempty"`
}

// StepRecord is the timing and moves of one step.
type StepRecord struct {
	Step      int           `json:"step"`
	Weight    router.Weight `json:"weight"`
	StartedAt time.Time     `json:"started_at"`
	AppliedAt time.Time     `json:"applied_at,omitzero"`
	EndedAt   time.Time     `json:"ended_at,omitzero"`
	Moved     int           `json:"moved"`
	Failed    int           `json:"failed"`
	Outcome   Outcome       `json:"outcome,omitempty"`
}

// LastVerdict returns the newest verdict, if any.
func (s *State) LastVerdict() (Verdict, bool) {
	if len(s.Verdicts) == 0 {
		return Verdict{}, false
	}
	return s.Verdicts[len(s.Verdicts)-1], true
}

// clone returns a deep enough copy: slices are copied so that the
// controller's later appends never show through a copy handed out.
func (s State) clone() State {
	s.Steps = slices.Clone(s.Steps)
	s.Verdicts = slices.Clone(s.Verdicts)
	if s.Plan != nil {
		p := *s.Plan
		p.Steps = slices.Clone(p.Steps)
		s.Plan = &p
	}
	return s
}

// currentStep returns the record of the current step, nil when none.
func (s *State) currentStep() *StepRecord {
	if n := len(s.Steps); n > 0 && s.Steps[n-1].Step == s.Step && s.Steps[n-1].EndedAt.IsZero() {
		return &s.Steps[n-1]
	}
	return nil
}

func (s *State) addVerdict(v Verdict) {
	s.Verdicts = append(s.Verdicts, v)
	if n := len(s.Verdicts); n > maxVerdicts {
		s.Verdicts = slices.Delete(s.Verdicts, 0, n-maxVerdicts)
	}
}

func encodeState(s State) ([]byte, error) {
	s.Schema = stateSchema
	return json.Marshal(s)
}

// DecodeStoredState reads a state blob as the controller stored it, with
// the checks a controller makes when it loads one: for a gateway that
// follows the rollout another gateway's controller runs.
func DecodeStoredState(b []byte) (State, error) { return decodeState(b) }

func decodeState(b []byte) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("rollout: stored state: %w", err)
	}
	if s.Phase == "" {
		s.Phase = Idle
	}
	switch {
	case s.Schema > stateSchema:
		return State{}, fmt.Errorf("rollout: stored state has schema %d, this build reads up to %d", s.Schema, stateSchema)
	case !s.Phase.known():
		return State{}, fmt.Errorf("rollout: stored state has unknown phase %q", s.Phase)
	case s.Phase == Paused && s.PausedFrom != Preparing && s.PausedFrom != Shifting:
		return State{}, fmt.Errorf("rollout: stored state paused from phase %q, which no pause leaves", s.PausedFrom)
	case s.Phase != Idle && s.Plan == nil:
		return State{}, fmt.Errorf("rollout: stored state in phase %s has no plan", s.Phase)
	case s.Plan != nil && (s.Step < 0 || s.Step > len(s.Plan.Steps)):
		return State{}, fmt.Errorf("rollout: stored step %d outside the plan's %d steps", s.Step, len(s.Plan.Steps))
	case !s.Weight.Valid():
		return State{}, fmt.Errorf("rollout: stored weight %d out of range", s.Weight)
	}
	return s, nil
}

// beginStep records the start of the current step, and baseline, the
// preservation counters before its moves. Taken here, stored with the
// step, and not at each attempt to apply it: an attempt redone (a failed
// store write, a reload, a pause during the moves) would otherwise count
// from after the moves it already made, and the gate would not see what
// they lost.
func (s *State) beginStep(now time.Time, baseline Preservation) {
	s.Steps = append(s.Steps, StepRecord{Step: s.Step, Weight: s.Weight, StartedAt: now})
	s.Baseline = baseline
}

// endStep closes the current step's record with outcome.
func (s *State) endStep(now time.Time, o Outcome) {
	if r := s.currentStep(); r != nil {
		r.EndedAt, r.Outcome = now, o
	}
}

func (s *State) startRollback(now time.Time, emergency bool, reason string) {
	s.endStep(now, "")
	s.Phase, s.Weight, s.Applied, s.Emergency = RollingBack, 0, false, emergency
	s.Reason, s.EndedAt, s.RollbackAt = reason, time.Time{}, now
	s.PausedFrom, s.HoldLeft, s.HoldUntil, s.Promoted = "", 0, time.Time{}, false
}

// newID names a rollout: its start time and a random suffix.
func newID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics on a broken system)
	return "r-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}
