package app

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/upstream"
)

// TestRolloutCompletes: a healthy green takes every session, live.
func TestRolloutCompletes(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{})
	cs := clients(t, a.App, 20)

	st := runRollout(t, a.Controller())
	if st.Phase != rollout.Completed {
		t.Fatalf("rollout ended %s: %s; %s", st.Phase, st.Reason, lastVerdict(st))
	}
	gs := a.Gateway().Status()
	if gs.Weight != router.Full || gs.Sessions.Green != len(cs) || gs.Sessions.Blue != 0 {
		t.Errorf("gateway after the rollout: %+v", gs.Sessions)
	}
	p := a.Gateway().Preservation()
	if p.MovesTried != uint64(len(cs)) || p.SocketsKept != p.MovesTried || p.SubscriptionsKept != p.SubscriptionsTried || p.SubscriptionsTried != uint64(len(cs)) {
		t.Errorf("preservation %+v, want %d moves all kept", p, len(cs))
	}
	checkDelivery(t, cs)
	if s := a.Monitor().Snapshot(router.Green); s.Counts.Requests == 0 || s.Latency[0].Count == 0 {
		t.Errorf("green health recorded nothing: %+v", s.Counts)
	}
}

// TestRolloutRollsBackOnFaults: green answers a fifth of the publishes
// with an error (injected under the health records: the reference
// services have no fault options), so a gate — or, when an injected error
// hits the check's own probe, the green check — fails and everyone
// returns to blue, live.
func TestRolloutRollsBackOnFaults(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{GreenFaults: upstream.Faults{ErrorRate: 0.2}})
	cs := clients(t, a.App, 20)

	rollBack(t, a.Controller())
	gs := a.Gateway().Status()
	if gs.Weight != 0 || gs.Sessions.Blue != len(cs) || gs.Sessions.Green != 0 {
		t.Errorf("gateway after the rollback: weight %v, %+v", gs.Weight, gs.Sessions)
	}
	if p := a.Gateway().Preservation(); p.SocketsKept != p.MovesTried || p.SubscriptionsKept != p.SubscriptionsTried {
		t.Errorf("preservation %+v", p)
	}
	checkDelivery(t, cs)
}

// TestRolloutRollsBackOnLatency: green 800 ms slower than blue fails the
// P95 gate (or runs out of extensions for want of samples) and rolls back.
func TestRolloutRollsBackOnLatency(t *testing.T) {
	blue, green := testBackends(t)
	cfg := testConfig(blue, green, "")
	cfg.Rollout.MaxExtensions = 5
	a := start(t, cfg, Options{GreenFaults: upstream.Faults{Latency: 800 * time.Millisecond}})
	cs := clients(t, a.App, 5)

	rollBack(t, a.Controller())
	if gs := a.Gateway().Status(); gs.Sessions.Blue != len(cs) {
		t.Errorf("gateway after the rollback: %+v", gs.Sessions)
	}
	checkDelivery(t, cs)
}
