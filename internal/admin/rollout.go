package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
)

// commandTimeout bounds one rollout command. Commands run detached from
// the request: an operator's command, once received, is carried out even
// when the client hangs up before the answer.
const commandTimeout = 15 * time.Second

// RolloutStatus answers GET /api/v1/rollout and every rollout command.
// Weights are percent on green; times are RFC 3339.
type RolloutStatus struct {
	ID    string `json:"id,omitempty"`
	State string `json:"state"`
	// Step is the current step, 1-based; 0 before the first. Steps is the
	// plan's number of steps (0 while idle).
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// Weight is what the controller applies in this state: the step's
	// weight, 100 on promote, 0 while rolling back.
	Weight float64 `json:"weight"`
	// Applied is true once the moves for Weight have ended.
	Applied bool `json:"applied"`
	// HoldUntil is when the current step's hold ends (once applied);
	// HoldLeftMs what remains of it while paused.
	HoldUntil  time.Time `json:"hold_until,omitzero"`
	HoldLeftMs int64     `json:"hold_left_ms,omitempty"`
	Extensions int       `json:"extensions"`
	Promoted   bool      `json:"promoted,omitempty"`
	Emergency  bool      `json:"emergency,omitempty"`
	PausedFrom string    `json:"paused_from,omitempty"`
	// Reason says why the rollout left its normal course.
	Reason string        `json:"reason,omitempty"`
	Plan   *rollout.Plan `json:"plan,omitempty"`

	StartedAt  time.Time `json:"started_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	RollbackAt time.Time `json:"rollback_at,omitzero"`
	// ElapsedMs runs from the start to the end (or to now).
	ElapsedMs int64 `json:"elapsed_ms"`
	// History has one entry per step entered, in order.
	History []StepTiming `json:"history"`
	// LastVerdict is the newest gate verdict; Verdicts the newest ones,
	// oldest first (left out of the event stream's metrics ticks).
	LastVerdict *rollout.Verdict  `json:"last_verdict,omitempty"`
	Verdicts    []rollout.Verdict `json:"verdicts,omitempty"`
}

// StepTiming is the timing and the moves of one step.
type StepTiming struct {
	Step      int       `json:"step"`
	Weight    float64   `json:"weight"`
	StartedAt time.Time `json:"started_at"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// MovesMs is how long the step's moves took (start to applied).
	MovesMs int64  `json:"moves_ms,omitempty"`
	Moved   int    `json:"moved"`
	Failed  int    `json:"failed"`
	Outcome string `json:"outcome,omitempty"`
}

// Terminal reports whether a state is one a rollout ends in.
func Terminal(state string) bool {
	switch rollout.Phase(state) {
	case rollout.Completed, rollout.RolledBack, rollout.Aborted:
		return true
	}
	return false
}

// StatusOf converts a controller state to its API form at time now.
func StatusOf(st rollout.State, now time.Time) RolloutStatus {
	out := RolloutStatus{
		ID: st.ID, State: string(st.Phase), Step: st.Step, Weight: st.Weight.Percent(),
		Applied: st.Applied, HoldUntil: st.HoldUntil, HoldLeftMs: st.HoldLeft.D().Milliseconds(),
		Extensions: st.Extensions, Promoted: st.Promoted, Emergency: st.Emergency,
		PausedFrom: string(st.PausedFrom), Reason: st.Reason, Plan: st.Plan,
		StartedAt: st.StartedAt, UpdatedAt: st.UpdatedAt, EndedAt: st.EndedAt, RollbackAt: st.RollbackAt,
		History:  make([]StepTiming, 0, len(st.Steps)),
		Verdicts: st.Verdicts,
	}
	if out.State == "" {
		out.State = string(rollout.Idle)
	}
	if st.Plan != nil {
		out.Steps = len(st.Plan.Steps)
	}
	if !st.StartedAt.IsZero() {
		end := now
		if !st.EndedAt.IsZero() {
			end = st.EndedAt
		}
		out.ElapsedMs = max(end.Sub(st.StartedAt), 0).Milliseconds()
	}
	for _, r := range st.Steps {
		t := StepTiming{
			Step: r.Step, Weight: r.Weight.Percent(), StartedAt: r.StartedAt, AppliedAt: r.AppliedAt,
			EndedAt: r.EndedAt, Moved: r.Moved, Failed: r.Failed, Outcome: string(r.Outcome),
		}
		if !r.AppliedAt.IsZero() {
			t.MovesMs = max(r.AppliedAt.Sub(r.StartedAt), 0).Milliseconds()
		}
		out.History = append(out.History, t)
	}
	if v, ok := st.LastVerdict(); ok {
		out.LastVerdict = &v
	}
	return out
}

// rolloutCommands are the POST /api/v1/rollout/{name} commands but start.
var rolloutCommands = map[string]func(Rollout, context.Context) (rollout.State, error){
	"pause":              Rollout.Pause,
	"resume":             Rollout.Resume,
	"promote":            Rollout.Promote,
	"rollback":           Rollout.Rollback,
	"emergency-rollback": Rollout.EmergencyRollback,
	"abort":              Rollout.Abort,
}

func (s *Server) routeRollout() {
	s.mux.Handle("GET /api/v1/rollout", s.handle(s.getRollout))
	s.mux.Handle("POST /api/v1/rollout/start", s.handle(s.startRollout))
	for name, run := range rolloutCommands {
		s.mux.Handle("POST /api/v1/rollout/"+name, s.handle(func(w http.ResponseWriter, r *http.Request) error {
			ro, err := s.rollout()
			if err != nil {
				return err
			}
			if err := noBody(w, r); err != nil {
				return err
			}
			ctx, cancel := commandContext(r)
			defer cancel()
			st, err := run(ro, ctx)
			return s.answerCommand(w, st, err)
		}))
	}
}

// noBody reads the body of a command that takes none: empty, {} or null
// will do; anything else is refused as decode refuses it (unknown field,
// malformed JSON, too large), so that a command is never carried out
// with a request it did not understand.
func noBody(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return apiErr(http.StatusBadRequest, "body larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decode(w, r, &struct{}{}, "empty or {}")
}

func (s *Server) rollout() (Rollout, error) {
	if s.opts.Rollout == nil {
		return nil, apiErr(http.StatusServiceUnavailable, "this gateway runs no rollout controller")
	}
	return s.opts.Rollout, nil
}

func commandContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), commandTimeout)
}

func (s *Server) getRollout(w http.ResponseWriter, _ *http.Request) error {
	ro, err := s.rollout()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, StatusOf(ro.Status(), time.Now()))
}

// startRollout reads an optional plan override: an empty body starts the
// configured plan.
func (s *Server) startRollout(w http.ResponseWriter, r *http.Request) error {
	ro, err := s.rollout()
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return apiErr(http.StatusBadRequest, "body larger than %d bytes", maxBody)
	}
	o, err := rollout.ParseOverride(body)
	if err != nil {
		return planError(err)
	}
	ctx, cancel := commandContext(r)
	defer cancel()
	st, err := ro.Start(ctx, o)
	return s.answerCommand(w, st, err)
}

// answerCommand writes a command's result: the new status, or the error
// mapped to its status code.
func (s *Server) answerCommand(w http.ResponseWriter, st rollout.State, err error) error {
	var te *rollout.TransitionError
	var de *rollout.DecreaseError
	switch {
	case err == nil:
		return writeJSON(w, http.StatusOK, StatusOf(st, time.Now()))
	case errors.As(err, &te):
		return &APIError{Status: http.StatusConflict, Err: err, State: string(te.Phase)}
	case errors.As(err, &de):
		return &APIError{Status: http.StatusConflict, Err: err, State: string(de.Phase)}
	case errors.Is(err, ErrFollowing):
		// st is the holder's rollout, as the follower shows it.
		return &APIError{Status: http.StatusConflict, Err: err, State: string(st.Phase)}
	case errors.Is(err, rollout.ErrInvalidPlan):
		return planError(err)
	case errors.Is(err, rollout.ErrClosed), errors.Is(err, ErrTakingOver):
		return &APIError{Status: http.StatusServiceUnavailable, Err: err}
	}
	return err
}

// planError is the 400 for a bad override; Field names the first bad
// field as the override spells it ("hold", "thresholds.max_p95").
func planError(err error) *APIError {
	ae := &APIError{Status: http.StatusBadRequest, Err: err}
	var fe *config.FieldError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &fe):
		ae.Field = strings.TrimPrefix(fe.Path, "rollout.")
	case errors.As(err, &te):
		ae.Field = te.Field
	default:
		ae.Field = unknownField(err)
	}
	if ae.Field == "" {
		ae.Err = fmt.Errorf("invalid plan override: %w", err)
	}
	return ae
}
