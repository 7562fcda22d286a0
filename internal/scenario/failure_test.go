package scenario

import (
	"context"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sleep"
	"github.com/baton-rt/baton/internal/testenv"
)

// Sizes of the failure cases: enough sessions that a kill lands in the
// middle of a weight change, small enough to stay quick.
const (
	failGo, failNode = 40, 40
	failChannels     = 10
	failRate         = 200 // msg/s
)

// startFailureLoad connects the failure cases' fleets to c and starts
// publishing on their channels.
func startFailureLoad(t *testing.T, ctx context.Context, c *cluster) (*fleets, *publisher) {
	t.Helper()
	channels := c.channels(failChannels)
	f := startFleets(t, ctx, c, failGo, failNode, channels, 3)
	return f, startPublisher(c.broker, channels, failRate)
}

// waitStatus polls the admin status until cond holds, bounded.
func (c *cluster) waitStatus(t *testing.T, d time.Duration, cond func(admin.Status) bool) admin.Status {
	t.Helper()
	var st admin.Status
	ok := testenv.Poll(d, func() bool {
		var err error
		st, err = c.status()
		return err == nil && cond(st)
	})
	if !ok {
		t.Fatalf("status did not settle within %v: %+v", d, st)
	}
	return st
}

func allOn(color router.Color) func(string) router.Color {
	return func(string) router.Color { return color }
}

// TestScenarioGreenRefuses: green's port is closed. A weight change to 100
// reports every move as failed, every session stays on blue untouched and
// loses nothing; once green is up the next change moves them all.
func TestScenarioGreenRefuses(t *testing.T) {
	c := startCluster(t, clusterOptions{noGreen: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, pub := startFailureLoad(t, ctx, c)
	n := len(f.members)

	_ = sleep.For(ctx, 500*time.Millisecond)
	res, err := c.setWeight(100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 0 || res.Failed != n {
		t.Errorf("weight 100 with green down: %+v, want moved 0 failed %d", res, n)
	}
	st, err := c.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions.Blue != n || st.Sessions.Green != 0 || st.Sessions.Detached != 0 || st.Moves.Failed != uint64(n) || st.Backends["green"].Up {
		t.Errorf("status %+v", st)
	}
	c.checkSessions(t, f.members, allOn(router.Blue))
	t.Logf("green down: PUT weight 100 → %+v, green last_error %q", res, st.Backends["green"].LastError)

	// Green comes up: the next change (same weight) moves everyone.
	c.restartGreen()
	_ = sleep.For(ctx, 500*time.Millisecond)
	if res, err = c.setWeight(100); err != nil {
		t.Fatal(err)
	}
	if res.Moved != n || res.Failed != 0 {
		t.Errorf("weight 100 with green up: %+v, want moved %d", res, n)
	}
	c.checkSessions(t, f.members, allOn(router.Green))
	_ = sleep.For(ctx, 500*time.Millisecond)
	f.verify(t, pub.stop())
}

// TestScenarioGreenKilledMidMove: green is SIGKILLed while a weight change
// to 100 is moving sessions onto it (paced at 40/s). The sessions not moved
// yet stay on blue; the moved ones lose their green connection and are
// re-attached to blue; no client notices and nothing is lost.
func TestScenarioGreenKilledMidMove(t *testing.T) {
	c := startCluster(t, clusterOptions{gateway: gatewayConfig{MovesPerSecond: 40, Concurrency: 4}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, pub := startFailureLoad(t, ctx, c)
	n := len(f.members)

	type putResult struct {
		res admin.WeightResult
		err error
	}
	done := make(chan putResult, 1)
	go func() {
		res, err := c.setWeight(100)
		done <- putResult{res, err}
	}()
	st := c.waitStatus(t, 30*time.Second, func(st admin.Status) bool { return st.Moves.Done >= uint64(n/3) })
	c.green.kill()
	t.Logf("green killed after %d moves", st.Moves.Done)
	var put putResult
	select {
	case put = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("PUT weight did not answer within 60s")
	}
	if put.err != nil {
		t.Fatal(put.err)
	}
	if put.res.Moved+put.res.Failed != n || put.res.Failed == 0 || put.res.Moved == 0 {
		t.Errorf("PUT weight 100: %+v, want moved+failed = %d, both > 0", put.res, n)
	}
	st = c.waitStatus(t, 30*time.Second, func(st admin.Status) bool {
		return st.Sessions.Blue == n && st.Sessions.Detached == 0 && st.Moves.Reattached >= st.Moves.Drops
	})
	t.Logf("PUT answered %+v; settled: sessions %+v moves %+v", put.res, st.Sessions, st.Moves)
	if st.Moves.Drops == 0 || st.Moves.ReattachFailed != 0 {
		t.Errorf("moves %+v: want drops (the sessions moved to green) all re-attached", st.Moves)
	}
	c.checkSessions(t, f.members, allOn(router.Blue))
	_ = sleep.For(ctx, 500*time.Millisecond)
	f.verify(t, pub.stop())
}

// TestScenarioBlueKilled: every session sits on blue when blue is
// SIGKILLed. They are re-attached to green without the clients noticing;
// the messages published (through Redis) while blue was down reach them
// exactly once. Blue comes back and a weight change brings them home.
func TestScenarioBlueKilled(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, pub := startFailureLoad(t, ctx, c)
	n := len(f.members)

	_ = sleep.For(ctx, 500*time.Millisecond)
	killed := time.Now()
	c.blue.kill()
	st := c.waitStatus(t, 60*time.Second, func(st admin.Status) bool {
		return st.Sessions.Green == n && st.Sessions.Detached == 0
	})
	t.Logf("blue killed: %d sessions on green after %v; moves %+v", n, time.Since(killed).Round(time.Millisecond), st.Moves)
	if st.Moves.Drops != uint64(n) || st.Moves.Reattached != uint64(n) || st.Moves.ReattachFailed != 0 {
		t.Errorf("moves %+v, want %d drops all re-attached", st.Moves, n)
	}
	c.checkSessions(t, f.members, allOn(router.Green))
	_ = sleep.For(ctx, time.Second) // publishing goes on while blue is down

	c.restartBlue()
	res, err := c.setWeight(0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != n || res.Failed != 0 {
		t.Errorf("weight 0 after blue's return: %+v, want moved %d", res, n)
	}
	c.checkSessions(t, f.members, allOn(router.Blue))
	_ = sleep.For(ctx, 500*time.Millisecond)
	f.verify(t, pub.stop())
}
