package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
)

// weightRequest is the body of PUT /api/v1/weight.
type weightRequest struct {
	Weight json.RawMessage `json:"weight"`
}

// WeightResult answers PUT /api/v1/weight.
type WeightResult struct {
	Weight float64 `json:"weight"`
	Moved  int     `json:"moved"`
	Failed int     `json:"failed"`
}

// readWeight reads the body {"weight": N} of the weight endpoints.
func readWeight(w http.ResponseWriter, r *http.Request) (router.Weight, error) {
	var req weightRequest
	if err := decode(w, r, &req, `like {"weight": 25}`); err != nil {
		return 0, err
	}
	badWeight := func(format string, args ...any) error {
		ae := apiErr(http.StatusBadRequest, format, args...)
		ae.Field = "weight"
		return ae
	}
	if req.Weight == nil || string(req.Weight) == "null" {
		return 0, badWeight(`missing field "weight"`)
	}
	var p float64 // a number; a string such as "50" is refused
	if json.Unmarshal(req.Weight, &p) != nil {
		return 0, badWeight("weight: must be a number from 0 to 100")
	}
	wt, err := router.FromPercent(p)
	if err != nil {
		return 0, badWeight("weight: must be a number from 0 to 100 with at most two decimals, got %v", p)
	}
	return wt, nil
}

func (s *Server) putWeight(w http.ResponseWriter, r *http.Request) error {
	wt, err := readWeight(w, r)
	if err != nil {
		return err
	}
	// The moves run within the request: a client that gives up stops the
	// moves not started yet (the weight stays applied), or, while another
	// change is under way, the change before it applies the weight.
	var moved, failed int
	set := func(ctx context.Context) (err error) {
		moved, failed, err = s.g.SetWeight(ctx, wt)
		return err
	}
	if s.opts.Rollout != nil {
		// A weight set by hand would fight the controller's steps: refused
		// while a rollout is active, and no rollout starts meanwhile.
		err = s.opts.Rollout.SetWeightByHand(r.Context(), wt, set)
		var te *rollout.TransitionError
		if errors.As(err, &te) {
			return &APIError{Status: http.StatusConflict, State: string(te.Phase),
				Err: fmt.Errorf("a rollout is %s: abort it, or let it end, before setting the weight by hand", te.Phase)}
		}
		if errors.Is(err, rollout.ErrClosed) || errors.Is(err, ErrTakingOver) {
			return &APIError{Status: http.StatusServiceUnavailable, Err: err}
		}
		if errors.Is(err, ErrFollowing) {
			return &APIError{Status: http.StatusConflict, Err: err, State: string(s.opts.Rollout.Status().Phase)}
		}
	} else {
		err = set(r.Context())
	}
	if errors.Is(err, gateway.ErrNotApplied) {
		return apiErr(http.StatusServiceUnavailable, "weight %v not applied, nobody moved (GET /api/v1/status shows the weight in force): %v", wt.Percent(), err)
	}
	if err != nil {
		return apiErr(http.StatusServiceUnavailable, "weight %v applied, moves interrupted (moved %d, failed %d): %v", wt.Percent(), moved, failed, err)
	}
	return writeJSON(w, http.StatusOK, WeightResult{Weight: wt.Percent(), Moved: moved, Failed: failed})
}

// PrepareResult answers POST /api/v1/weight/prepare.
type PrepareResult struct {
	Weight   float64 `json:"weight"`
	Prepared int     `json:"prepared"`
	Failed   int     `json:"failed"`
}

// postPrepare dials ahead the connections that the weight in the body
// would move sessions onto (gateway.PrepareWeight). It changes no weight,
// so a rollout in progress does not refuse it.
func (s *Server) postPrepare(w http.ResponseWriter, r *http.Request) error {
	wt, err := readWeight(w, r)
	if err != nil {
		return err
	}
	prepared, failed, err := s.g.PrepareWeight(r.Context(), wt)
	if err != nil {
		return apiErr(http.StatusServiceUnavailable, "preparation for weight %v interrupted (prepared %d, failed %d): %v", wt.Percent(), prepared, failed, err)
	}
	return writeJSON(w, http.StatusOK, PrepareResult{Weight: wt.Percent(), Prepared: prepared, Failed: failed})
}

// Status answers GET /api/v1/status.
type Status struct {
	Weight   float64               `json:"weight"`
	Sessions SessionCounts         `json:"sessions"`
	Moves    MoveCounts            `json:"moves"`
	Backends map[string]Backend    `json:"backends"`
	Messages gateway.MessageCounts `json:"messages"`
	Edge     any                   `json:"edge,omitempty"`
	// Store is this gateway's part in a store shared by several (a Redis
	// rollout.store); absent otherwise.
	Store *StoreRole `json:"store,omitempty"`
}

// StoreRole is a gateway's part in a shared store: "holder" (it runs the
// rollout) or "follower" (it applies the holder's weights), who holds
// the store, and the URL of the holder's admin API ("" when unknown).
// RoutingMismatch, on a follower, says which of its routing settings
// differ from the holder's; empty when none does (or the holder does not
// tell).
type StoreRole struct {
	Role            string `json:"role"`
	Holder          string `json:"holder"`
	HolderAdmin     string `json:"holder_admin,omitempty"`
	RoutingMismatch string `json:"routing_mismatch,omitempty"`
}

// SessionCounts are the sessions by backend.
type SessionCounts struct {
	Blue     int `json:"blue"`
	Green    int `json:"green"`
	Detached int `json:"detached"`
	// Standby counts sessions holding an idle connection to the other
	// backend: to blue during a rollout, for a fast way back, or one
	// prepared ahead of a weight change (POST /api/v1/weight/prepare).
	Standby int `json:"standby"`
}

// MoveCounts are the gateway's move counters.
type MoveCounts struct {
	Done           uint64 `json:"done"`
	Failed         uint64 `json:"failed"`
	Canceled       uint64 `json:"canceled"`
	Retried        uint64 `json:"retried"`
	Drops          uint64 `json:"drops"`
	Reattached     uint64 `json:"reattached"`
	ReattachFailed uint64 `json:"reattach_failed"`
	Stalls         uint64 `json:"stalls"`
	AttachFailed   uint64 `json:"attach_failed"`
}

// Backend is one backend's state.
type Backend struct {
	Protocol  string     `json:"protocol"`
	Up        bool       `json:"up"`
	Known     bool       `json:"known"`
	LastError string     `json:"last_error,omitempty"`
	CheckedAt *time.Time `json:"checked_at,omitempty"`
}

func backendOf(b gateway.BackendStatus) Backend {
	out := Backend{Protocol: b.Protocol, Up: b.Up, Known: b.Known, LastError: b.LastError}
	if !b.CheckedAt.IsZero() {
		out.CheckedAt = &b.CheckedAt
	}
	return out
}

func (s *Server) getStatus(w http.ResponseWriter, _ *http.Request) error {
	st := s.g.Status()
	out := Status{
		Weight:   st.Weight.Percent(),
		Sessions: sessionCounts(st.Sessions),
		Moves:    moveCounts(st.Moves),
		Backends: map[string]Backend{"blue": backendOf(st.Backends.Blue), "green": backendOf(st.Backends.Green)},
		Messages: st.Messages,
	}
	if s.opts.Extra != nil {
		out.Edge = s.opts.Extra()
	}
	if s.opts.StoreRole != nil {
		out.Store = s.opts.StoreRole()
	}
	return writeJSON(w, http.StatusOK, out)
}

// SessionInfo answers GET /api/v1/sessions/{id}.
type SessionInfo struct {
	ID            string         `json:"id"`
	User          string         `json:"user"`
	Protocol      string         `json:"protocol"`
	Backend       string         `json:"backend"`
	Attached      bool           `json:"attached"`
	Subscriptions []Subscription `json:"subscriptions"`
}

// Subscription is one channel of a session; LastSeq is absent while the
// channel's position is unknown.
type Subscription struct {
	Channel string  `json:"channel"`
	LastSeq *uint64 `json:"last_seq,omitempty"`
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	in, ok := s.g.SessionInfo(id)
	if !ok {
		return apiErr(http.StatusNotFound, "no session %q", id)
	}
	out := SessionInfo{
		ID: in.ID, User: in.User, Protocol: string(in.Protocol),
		Backend: in.Backend.String(), Attached: in.Attached,
		Subscriptions: make([]Subscription, 0, len(in.Subscriptions)),
	}
	for _, sub := range in.Subscriptions {
		sb := Subscription{Channel: sub.Channel}
		if sub.HasLast {
			seq := sub.LastSeq
			sb.LastSeq = &seq
		}
		out.Subscriptions = append(out.Subscriptions, sb)
	}
	sort.Slice(out.Subscriptions, func(i, j int) bool { return out.Subscriptions[i].Channel < out.Subscriptions[j].Channel })
	return writeJSON(w, http.StatusOK, out)
}
