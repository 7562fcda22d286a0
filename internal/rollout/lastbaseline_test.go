package rollout

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// clientTraffic records, until ctx ends, the requests of sessions split
// between the backends by the shifter's weight, as upstream.Observe does
// for client traffic: a Requests and a RequestAck latency each, never an
// error, the same latencies on both backends. Blue gets none once
// everyone is on green.
func clientTraffic(ctx context.Context, m *health.Monitor, s *fakeShifter) {
	const perTick = 8
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		green := int(s.Status().Weight) * perTick / int(router.Full)
		for j := range perTick {
			c := m.Backend(router.Blue)
			if j < green {
				c = m.Backend(router.Green)
			}
			c.Count(health.Requests)
			c.Observe(health.RequestAck, time.Duration(5+(i+j)%7)*time.Millisecond)
		}
	}
}

// With the probe off the gates compare client traffic only. At the last
// step everyone is on green and blue serves nothing: once the hold has
// outlasted the health window, blue's side of the window is empty. The
// comparison with blue then has no baseline, ever; a healthy green that
// meets every absolute threshold must still complete, not be held
// inconclusive until its extensions run out and rolled back.
func TestLastStepWithoutBlueTrafficCompletes(t *testing.T) {
	m, err := health.New(health.Config{Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) {
		o.Health = NewMonitorHealth(m, health.RequestAck, nil) // the app's, probe off
		// A 1 s window is the current second alone, so a gate sees the
		// traffic of the part of the second already gone. With a hold of
		// whole seconds every gate of a step came at the same point of its
		// second; one early in it (under 50 ms: 189 operations a backend,
		// what the comparison at step 1 needs) left every extension as
		// short of data, and a CI run rolled back. Half a second more
		// moves each extension's gate half a second along.
		o.Plan = config.Rollout{
			Steps: []float64{50, 100}, Hold: 1500 * time.Millisecond, MinSamples: 50, MaxExtensions: 3,
			Store: config.Store{Kind: config.StoreMemory},
		}
	})
	tctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { clientTraffic(tctx, m, h.shifter) })
	defer func() { stop(); wg.Wait() }()

	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st := h.waitFor(h.c, "the rollout's end", func(s State) bool { return !s.Phase.Active() })
	if st.Phase != Completed {
		v, _ := st.LastVerdict()
		t.Fatalf("healthy rollout ended %s at step %d: %s (last verdict: green %d operations, blue %d; %v)",
			st.Phase, st.Step, st.Reason, v.Green.Total, v.Blue.Total, v.Reasons)
	}
}
