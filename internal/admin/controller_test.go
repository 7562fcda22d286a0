package admin

import (
	"context"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store/memstore"
)

// quietHealth gives the gates nothing to judge: every verdict is
// inconclusive, so a rollout stays at its first step for a while.
type quietHealth struct{}

func (quietHealth) SnapshotSince(router.Color, time.Time) rollout.BackendHealth {
	return rollout.BackendHealth{}
}
func (quietHealth) Preservation() rollout.Preservation { return rollout.Preservation{} }

// realControllerHarness is the API over a real *rollout.Controller (one
// hour holds, a memory store, quiet health) shifting a fakeGateway.
func realControllerHarness(t *testing.T) (*harness, *fakeGateway, *rollout.Controller) {
	t.Helper()
	st, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	gw := &fakeGateway{}
	ctrl, err := rollout.New(context.Background(), rollout.Options{
		Plan: config.Rollout{Hold: time.Hour}, Shifter: gw, Health: quietHealth{}, Store: st,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctrl.Close() })
	return newHarness(t, func(o *Options) { o.Rollout = ControllerRollout(ctrl) }), gw, ctrl
}

// TestRealController drives a *rollout.Controller through ControllerRollout:
// the adapter is all the wiring needs.
func TestRealController(t *testing.T) {
	h, gw, _ := realControllerHarness(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, er := h.openStream(ctx)
	next(t, er, EventStatus, nil)

	code, body := h.do("POST", "/api/v1/rollout/start", `{"steps":[50,100]}`)
	if s := decodeStatus(t, body); code != 200 || s.State != "preparing" || s.Steps != 2 || s.ID == "" {
		t.Fatalf("start: %d %s", code, body)
	}
	var tr TransitionEvent
	if next(t, er, EventTransition, &tr); tr.Kind != string(rollout.EventStarted) || tr.To != "preparing" {
		t.Fatalf("first transition: %+v", tr)
	}
	// The driver applies step 1 (50 %) and holds for an hour.
	for range 100 {
		next(t, er, EventTransition, &tr)
		if tr.Kind == string(rollout.EventStepApplied) {
			break
		}
	}
	if tr.Kind != string(rollout.EventStepApplied) || tr.Weight != 50 || gw.Status().Weight != 5000 {
		t.Fatalf("step 1: %+v, gateway weight %v", tr, gw.Status().Weight)
	}

	code, body = h.do("POST", "/api/v1/rollout/start", "")
	if e := decodeError(t, body); code != 409 || e.State != "shifting" {
		t.Fatalf("second start: %d %s", code, body)
	}
	code, body = h.do("POST", "/api/v1/rollout/start", `{"hold":"-1s"}`)
	if e := decodeError(t, body); code != 400 || e.Field != "hold" {
		t.Fatalf("bad hold: %d %s", code, body)
	}
	code, body = h.do("POST", "/api/v1/rollout/abort", "")
	if s := decodeStatus(t, body); code != 200 || s.State != "aborted" || s.Weight != 50 || len(s.History) != 1 {
		t.Fatalf("abort: %d %s", code, body)
	}
	if next(t, er, EventTransition, &tr); tr.Kind != string(rollout.EventAborted) || tr.To != "aborted" {
		t.Fatalf("abort transition: %+v", tr)
	}
	got := scrape(t, h)
	if got[`baton_rollout_state{state="aborted"}`] != "1" || got[`baton_rollout_weight_percent`] != "50" {
		t.Fatalf("prometheus after abort: %v", got)
	}
}
