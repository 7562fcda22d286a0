package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
	"github.com/baton-rt/baton/internal/testenv"
)

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// fleetSpecs gives n clients users named prefix-i, each on perClient
// distinct channels (a fixed pseudo-random choice, so runs are repeatable).
func fleetSpecs(prefix string, n int, channels []string, perClient int, seed uint64) []clientSpec {
	rng := rand.New(rand.NewPCG(seed, 7))
	specs := make([]clientSpec, n)
	for i := range specs {
		perm := rng.Perm(len(channels))[:perClient]
		chs := make([]string, perClient)
		for k, p := range perm {
			chs[k] = channels[p]
		}
		specs[i] = clientSpec{User: fmt.Sprintf("%s-%d", prefix, i), Channels: chs}
	}
	return specs
}

// nodeTransports spreads the official client over its transports: mostly
// websocket, one in ten long-polling only, one in ten its default
// (polling, then upgrade to websocket).
func nodeTransports(specs []clientSpec) {
	for i := range specs {
		switch i % 10 {
		case 0:
			specs[i].Transport = "upgrade"
		case 5:
			specs[i].Transport = "polling"
		default:
			specs[i].Transport = "websocket"
		}
	}
}

func users(specs ...[]clientSpec) []string {
	var out []string
	for _, ss := range specs {
		for _, s := range ss {
			out = append(out, s.User)
		}
	}
	return out
}

// TestScenarioWeightSteps is the main scenario: 1,000 sessions
// (half legacy Go clients, half official socket.io-client in one node
// process), each on 3 of 50 channels, a publisher at 1,000 msg/s through
// Redis, and the weight going 0→10→25→50→75→100→0→100 through the admin
// API of a real gateway process in front of real blue and green
// processes. Every client must get every message of its channels after
// its subscribe ack exactly once and in order, without a disconnect; after
// each step the status counts follow the buckets and every session is live
// on its routed backend with its three channels (checked for the
// sessions each step moved). The step to 50 has its connections prepared
// ahead (POST /api/v1/weight/prepare): exactly the sessions it moves get
// one, and none is left once it is done.
func TestScenarioWeightSteps(t *testing.T) {
	sessions := envInt(t, "BATON_SCENARIO_SESSIONS", 1000)
	rate := envInt(t, "BATON_SCENARIO_RATE", 1000)
	// The moves get a generous timeout and a moderate concurrency: on a
	// loaded 2-core machine the default 5s can expire for a few of 1,000
	// simultaneous moves (they then stay on their backend, counted as
	// failed, and the step would not match the buckets).
	c := startCluster(t, clusterOptions{gateway: gatewayConfig{HandoverTimeout: 20 * time.Second, Concurrency: 64}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	channels := c.channels(50)
	goSpecs := fleetSpecs("legacy", sessions/2, channels, 3, 1)
	nodeSpecs := fleetSpecs("node", sessions-sessions/2, channels, 3, 2)
	nodeTransports(nodeSpecs)
	all := users(goSpecs, nodeSpecs)

	t0 := time.Now()
	gf := startGoFleet(t, ctx, c.edgeAddr, goSpecs)
	nf := startNodeFleet(t, c.edgeAddr, nodeSpecs, 120*time.Second)
	members := append(gf.members(), nf.members()...)
	t.Logf("%d sessions connected and subscribed in %v", len(members), time.Since(t0).Round(time.Millisecond))
	checkCounts(t, c, all, 0)

	tPub := time.Now()
	pub := startPublisher(c.broker, channels, rate)
	prev := 0.0
	for _, w := range []float64{10, 25, 50, 75, 100, 0, 100} {
		_ = sleep.For(ctx, time.Second) // traffic on the current placement
		want := crossing(t, all, prev, w)
		prepared := w == 50
		if prepared {
			tp := time.Now()
			res, err := c.prepare(w)
			if err != nil {
				t.Fatal(err)
			}
			if res.Prepared != want || res.Failed != 0 {
				t.Errorf("prepare %v: prepared %d failed %d, want prepared %d failed 0", w, res.Prepared, res.Failed, want)
			}
			t.Logf("weight %3v: prepared %4d in %v", w, res.Prepared, time.Since(tp).Round(time.Millisecond))
			checkCounts(t, c, all, prev) // nobody moved
		}
		start := time.Now()
		res, err := c.setWeight(w)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if res.Moved != want || res.Failed != 0 {
			t.Errorf("weight %v→%v: moved %d failed %d, want moved %d failed 0", prev, w, res.Moved, res.Failed, want)
		}
		checkCounts(t, c, all, w)
		// Every session that moved must be live on its new backend with
		// its channels (1,000 admin GETs per step would cost ~10s each on
		// a loaded machine; the last step moves everyone anyway).
		table, before := routeTable(t, w), routeTable(t, prev)
		var moved []member
		for _, m := range members {
			if table.Backend(m.user) != before.Backend(m.user) {
				moved = append(moved, m)
			}
		}
		tc := time.Now()
		bad := c.checkSessions(t, moved, table.Backend)
		t.Logf("weight %3v: moved %4d in %v (%.0f sessions/s; prepared ahead %v); %d session infos checked in %v, %d wrong",
			w, res.Moved, took.Round(time.Millisecond), float64(res.Moved)/took.Seconds(), prepared, len(moved), time.Since(tc).Round(time.Millisecond), bad)
		if prepared {
			testenv.Eventually(t, "no prepared connection left after the step", 15*time.Second, func() bool {
				st, err := c.status()
				return err == nil && st.Sessions.Standby == 0
			})
		}
		prev = w
	}
	_ = sleep.For(ctx, time.Second)
	last := pub.stop()
	var published uint64
	for _, s := range last {
		published += s
	}
	t.Logf("publisher: %d messages in %v (%.0f msg/s), %d errors", pub.sent.Load(), time.Since(tPub).Round(time.Millisecond),
		float64(pub.sent.Load())/time.Since(tPub).Seconds(), pub.errs.Load())
	if pub.errs.Load() > 0 {
		t.Errorf("publisher errors: %d, last %v", pub.errs.Load(), pub.lastErr)
	}

	tDrain := time.Now()
	if !testenv.Poll(90*time.Second, func() bool { return gf.caughtUp(last) }) {
		t.Errorf("legacy clients not caught up within 90s")
	}
	t.Logf("legacy clients drained in %v", time.Since(tDrain).Round(time.Millisecond))
	goBad, goRecv := summarize(t, "legacy", gf.results(last))
	nodeResults, err := nf.finish(last, 150*time.Second)
	if err != nil {
		t.Error(err)
	}
	nodeBad, nodeRecv := summarize(t, "node", nodeResults)
	if len(nodeResults) != len(nodeSpecs) {
		t.Errorf("node fleet reported %d of %d clients", len(nodeResults), len(nodeSpecs))
	}
	t.Logf("delivered: legacy %d messages (%d bad clients), node %d messages (%d bad clients); drain %v; total %v",
		goRecv, goBad, nodeRecv, nodeBad, time.Since(tDrain).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))

	st, err := c.status()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status: moves %+v, messages %+v", st.Moves, st.Messages)
	if st.Moves.Failed != 0 || st.Moves.Drops != 0 || st.Moves.ReattachFailed != 0 || st.Messages.Rejected != 0 {
		t.Errorf("status: moves %+v, messages %+v", st.Moves, st.Messages)
	}
}

// crossing counts the users whose backend differs between weights a and b.
func crossing(t *testing.T, users []string, a, b float64) int {
	t.Helper()
	ta, tb := routeTable(t, a), routeTable(t, b)
	n := 0
	for _, u := range users {
		if ta.Backend(u) != tb.Backend(u) {
			n++
		}
	}
	return n
}

// checkCounts wants GET /api/v1/status to show the bucket counts at w.
func checkCounts(t *testing.T, c *cluster, users []string, w float64) {
	t.Helper()
	blue, green := expectedCounts(t, users, w)
	st, err := c.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Weight != w || st.Sessions.Blue != blue || st.Sessions.Green != green || st.Sessions.Detached != 0 {
		t.Errorf("weight %v: status weight %v sessions %+v, buckets say blue %d green %d", w, st.Weight, st.Sessions, blue, green)
	}
}
