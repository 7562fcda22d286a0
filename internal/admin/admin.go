// Package admin is the gateway's operator HTTP API, behind a bearer token:
//
//	PUT  /api/v1/weight        {"weight":N} (0–100, up to two decimals)
//	                           → {"weight":N,"moved":K,"failed":F} once the moves are done
//	POST /api/v1/weight/prepare {"weight":N}: dials ahead what that weight would move
//	                           → {"weight":N,"prepared":K,"failed":F}; the weight is unchanged
//	GET  /api/v1/status        weight, sessions per backend, moves, backends, counters
//	GET  /api/v1/sessions/{id} one session: backend, subscriptions, last seqs
//	POST /api/v1/rollout/{start,pause,resume,promote,rollback,emergency-rollback,abort}
//	GET  /api/v1/rollout       the rollout: state, step, weight, verdicts, timings
//	GET  /api/v1/metrics       health per backend (?series=true: and its last minutes)
//	GET  /api/v1/events        Server-Sent Events: transitions and a metrics tick
//	GET  /metrics              Prometheus exposition of an injected registry
//	GET  /dashboard/           the web dashboard (static files, no token: see
//	                           package dashboard); GET / redirects there
//
// docs/api.md is the reference (bodies, status codes).
//
// Every request but a GET or HEAD of the dashboard's static files needs
// Authorization: Bearer <token> (compared in constant time); without it,
// or with a wrong one, the answer is 401. Errors are
// JSON {"error":"..."}; a bad request (malformed JSON, unknown field,
// weight out of range, body too large) is 400 and changes nothing; a rollout
// command not allowed in the current state, or a start whose first step is
// below the current weight, is 409 and carries the state:
// {"error":"...","state":"paused"}.
//
// Handlers return an error; an *APIError carries its HTTP status, any
// other error is a 500.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baton-rt/baton/internal/admin/dashboard"
	"github.com/baton-rt/baton/internal/edge"
)

// maxBody bounds a request body.
const maxBody = 64 << 10

// APIError is an error answer with its HTTP status.
type APIError struct {
	Status int
	Err    error
	// State, when set, is the rollout state the answer reports (409).
	State string
	// Field, when set, names the bad field of a request (400).
	Field string
}

func (e *APIError) Error() string { return e.Err.Error() }
func (e *APIError) Unwrap() error { return e.Err }

func apiErr(status int, format string, args ...any) *APIError {
	return &APIError{Status: status, Err: fmt.Errorf(format, args...)}
}

// Options configure a Server.
type Options struct {
	// Gateway is what the API operates (*gateway.Gateway). Required.
	Gateway Gateway
	// Token is the bearer token. Required: an empty token would let
	// anyone in.
	Token string
	// Extra is added to GET /api/v1/status under "edge" when set (the
	// edge's counters).
	Extra func() any
	// StoreRole, when set, is added to GET /api/v1/status under "store":
	// the gateway's part in a store several gateways share (nil: none).
	StoreRole func() *StoreRole
	// EdgeStats, when set, gives the edge's counters to /metrics.
	EdgeStats func() edge.Stats
	// Rollout is the rollout controller (see ControllerRollout). Nil: the
	// rollout endpoints answer 503 and the event stream has metrics only.
	Rollout Rollout
	// Health gives per-backend health. Nil: /api/v1/metrics reports the
	// gateway's session counts only.
	Health Health
	// Registry receives the API's Prometheus collector and is what GET
	// /metrics exposes. Nil means a registry of the Server's own; the
	// global registry is never used.
	Registry *prometheus.Registry
	// Stream tunes GET /api/v1/events; zero values take defaults.
	Stream StreamOptions
	// Logger receives failed requests; nil discards them.
	Logger *slog.Logger
}

// Server is the admin API. It is an http.Handler.
type Server struct {
	opts  Options
	g     Gateway
	token [sha256.Size]byte
	mux   *http.ServeMux
	dash  *dashboard.Handler
	log   *slog.Logger
	reg   *prometheus.Registry

	streams streams // open event streams
}

// New returns the admin API over opts.Gateway.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Gateway == nil:
		return nil, errors.New("admin: Options.Gateway is required")
	case opts.Token == "":
		return nil, errors.New("admin: Options.Token is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Stream = opts.Stream.withDefaults()
	s := &Server{opts: opts, g: opts.Gateway, token: sha256.Sum256([]byte(opts.Token)), log: opts.Logger}
	s.streams.init()
	if err := s.initMetrics(); err != nil {
		return nil, err
	}
	s.dash = dashboard.New()
	s.mux = http.NewServeMux()
	s.mux.Handle("PUT /api/v1/weight", s.handle(s.putWeight))
	s.mux.Handle("POST /api/v1/weight/prepare", s.handle(s.postPrepare))
	s.mux.Handle("GET /api/v1/status", s.handle(s.getStatus))
	s.mux.Handle("GET /api/v1/sessions/{id}", s.handle(s.getSession))
	s.routeRollout()
	s.mux.Handle("GET /api/v1/metrics", s.handle(s.getMetrics))
	s.mux.Handle("GET /api/v1/events", s.handle(s.getEvents))
	s.mux.Handle("GET /metrics", s.promHandler())
	s.mux.Handle("/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return apiErr(http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
	}))
	return s, nil
}

// ServeHTTP serves the dashboard's files, which hold no data, without a
// token; for anything else it checks the token, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if dashboard.Owns(r) {
		s.dash.ServeHTTP(w, r)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="baton"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// authorized compares the bearer token in constant time; hashing both
// sides first makes the comparison independent of the lengths too.
func (s *Server) authorized(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	if len(a) < 7 || !strings.EqualFold(a[:7], "bearer ") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(a[7:])))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

// handle turns a handler returning an error into an http.Handler.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = &APIError{Status: http.StatusInternalServerError, Err: err}
		}
		if ae.Status >= 500 {
			s.log.Warn("admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		body := ErrorBody{Error: ae.Error(), State: ae.State, Field: ae.Field}
		if fe, ok := errors.AsType[*FollowingError](err); ok {
			body.Holder, body.HolderAdmin = fe.Holder, fe.HolderAdmin
		}
		_ = writeJSON(w, ae.Status, body)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

func writeError(w http.ResponseWriter, status int, msg string) {
	_ = writeJSON(w, status, ErrorBody{Error: msg})
}

// ErrorBody is every error answer. State is set on a 409 (the rollout's
// state), Field on a 400 when one field is to blame, Holder and
// HolderAdmin on a follower's 409 (FollowingError).
type ErrorBody struct {
	Error       string `json:"error"`
	State       string `json:"state,omitempty"`
	Field       string `json:"field,omitempty"`
	Holder      string `json:"holder,omitempty"`
	HolderAdmin string `json:"holder_admin,omitempty"`
}

// decode reads one JSON object into v strictly: unknown fields, trailing
// data and bodies over maxBody are 400s. like shows what the body should
// be ("like {\"weight\": 25}"), for a body that is JSON but no object.
func decode(w http.ResponseWriter, r *http.Request, v any, like string) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apiErr(http.StatusBadRequest, "body larger than %d bytes", maxBody)
		}
		if err == io.EOF { // nothing but whitespace
			return apiErr(http.StatusBadRequest, "the body must be a JSON object, %s; got an empty body", like)
		}
		// encoding/json would name the Go type it decodes into.
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field == "" {
			got := "a " + te.Value
			if te.Value == "array" {
				got = "an array"
			}
			return apiErr(http.StatusBadRequest, "the body must be a JSON object, %s; got %s", like, got)
		}
		ae := apiErr(http.StatusBadRequest, "malformed JSON: %v", err)
		ae.Field = unknownField(err)
		return ae
	}
	// More would miss a stray '}' or ']': only the end of the body will do.
	if _, err := dec.Token(); err != io.EOF {
		return apiErr(http.StatusBadRequest, "malformed JSON: data after the object")
	}
	return nil
}

// unknownField is the name of the field an encoding/json decoder refused
// as unknown, or "": the decoder names it only in its message.
func unknownField(err error) string {
	const marker = `unknown field "`
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	rest := msg[i+len(marker):]
	name, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return ""
	}
	return name
}
