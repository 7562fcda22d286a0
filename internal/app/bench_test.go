package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
)

// BenchmarkEmergencyRollback times moving every session from green to blue
// unpaced, as an emergency rollback does, over the in-process reference
// services. Sessions: BATON_BENCH_SESSIONS (default 1000; the target is
// 10,000 in at most a second). Reported: ms per rollback and sessions/s.
func BenchmarkEmergencyRollback(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("BATON_BENCH_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	blueB, greenB := testBackends(b)
	cfg := testConfig(blueB, greenB, "")
	cfg.Handover.Timeout = time.Minute
	cfg.Health.Probe.Disabled = true
	var opts Options
	listeners(b, cfg, &opts)
	a, err := Build(context.Background(), cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	g := a.Gateway()
	ctx := context.Background()
	for i := range n {
		s, err := g.Attach(ctx, gateway.Identity{User: fmt.Sprintf("u%d", i), Protocol: "legacy"}, discardSink{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Subscribe(ctx, fmt.Sprintf("room-%d", i), 0, false); err != nil {
			b.Fatal(err)
		}
	}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if _, failed, err := g.SetWeightPaced(ctx, router.Full, gateway.Unpaced); err != nil || failed > 0 {
			b.Fatalf("to green: %d failed, %v", failed, err)
		}
		b.StartTimer()
		began := time.Now()
		if _, failed, err := g.SetWeightPaced(ctx, 0, gateway.Unpaced); err != nil || failed > 0 {
			b.Fatalf("to blue: %d failed, %v", failed, err)
		}
		total += time.Since(began)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/rollback")
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "sessions/s")
}
