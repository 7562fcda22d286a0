package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/sleep"
	"github.com/baton-rt/baton/internal/testenv"
)

// Sizes of the chaos scenario: small enough for a shared 2-core machine,
// enough sessions that a fault lands in the middle of a paced weight
// change.
const (
	chaosGo, chaosNode = 50, 50
	chaosChannels      = 10
	chaosRate          = 200 // msg/s through Redis
	chaosMovesPerSec   = 60
	chaosEvents        = 14
	chaosDefaultSeed   = 1003 // one of the seeds run when the test was written
)

// TestScenarioChaos combines the faults the other scenarios test one at a
// time: a seeded random sequence of weight changes (reversed while the
// previous change still moves), blue or green SIGKILLed and restarted on
// their port, the broker's Redis restarted (with AOF, appendfsync always:
// docs/architecture.md says a stream then survives), a backend frozen
// (SIGSTOP) for a few seconds, and preparations (POST
// /api/v1/weight/prepare) followed by the change they were made for or
// another one; meanwhile legacy clients connect, or subscribe to one more
// channel. One backend at most is faulty at a time, so a session always
// has somewhere to go. Once the sequence has settled, every documented
// guarantee must hold: every client got every message of its channels
// after its subscribe ack exactly once and in order, with no disconnect;
// every session is live on the backend the buckets of the final weight
// say, with its channels; the status counters add up; the gateway holds
// one upstream connection per session (besides its probes) and no
// standby, and once the Socket.IO clients have left, none of theirs and
// no goroutine beyond two per session (read from its SIGQUIT dump).
//
// BATON_CHAOS_SEED replays one seed (printed when a run fails), or draws
// one at random when it is "random"; BATON_CHAOS_ROUNDS runs that many
// seeds from it (seed, seed+1, ...). Without them the suite runs
// chaosDefaultSeed, so that every run of the suite plays the same events
// (their timing still varies); exploring is for BATON_CHAOS_SEED=random.
func TestScenarioChaos(t *testing.T) {
	seed := uint64(chaosDefaultSeed)
	switch v := os.Getenv("BATON_CHAOS_SEED"); v {
	case "":
	case "random":
		seed = uint64(time.Now().UnixNano())
	default:
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("BATON_CHAOS_SEED=%q: %v", v, err)
		}
	}
	rounds := envInt(t, "BATON_CHAOS_ROUNDS", 1)
	for i := range rounds {
		s := seed + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("replay with BATON_CHAOS_SEED=%d BATON_CHAOS_ROUNDS=1", s)
				}
			})
			runChaos(t, s)
		})
	}
}

// chaos is one run: the cluster, its own Redis, and what the run did.
type chaos struct {
	t     *testing.T
	c     *cluster
	redis *redisProc
	rng   *rand.Rand
	users []string
	log   []string // the events, for the failure message

	puts      sync.WaitGroup
	mu        sync.Mutex
	moved     int // sum of the PUT answers
	failed    int
	putErr    []string
	issued    float64 // the last weight asked for
	preparing float64 // the last weight prepared, -1 once a change came
	prepares  []string

	clients  sync.WaitGroup // late clients connecting or subscribing
	connects []*lateConn    // the connects drawn, in the order drawn
	late     []*goClient    // connected during the chaos
	lateErrs []string

	nGoroutines int // in the gateway's dump at the end
}

func runChaos(t *testing.T, seed uint64) {
	start := time.Now()
	t.Logf("chaos seed %d", seed)
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not in PATH: the chaos scenario runs its own")
	}
	_ = testenv.RedisAddr(t) // the same requirement as every scenario
	ch := &chaos{t: t, rng: rand.New(rand.NewPCG(seed, 0x5eed)), preparing: -1}
	ch.redis = startRedis(t, redisBin, testenv.FreeAddr(t), t.TempDir())
	c := startCluster(t, clusterOptions{prefix: "chaos-", redis: ch.redis.addr,
		gateway: gatewayConfig{MovesPerSecond: chaosMovesPerSec, Concurrency: 8, HandoverTimeout: 10 * time.Second, BluePing: time.Second}})
	ch.c = c

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	channels := c.channels(chaosChannels)
	f := startFleets(t, ctx, c, chaosGo, chaosNode, channels, 3)
	ch.users = f.users
	n := len(f.members)
	base := ch.upstreamExtra(t)
	t.Logf("%d sessions ready in %v; upstream connections besides sessions: %v", n, time.Since(start).Round(time.Millisecond), base)

	pub := startPublisher(c.broker, channels, chaosRate)
	req := startRequesters(f, c.prefix+"requests", 300*time.Millisecond)
	_ = sleep.For(ctx, 500*time.Millisecond)

	redisRestarts := 0
	for range chaosEvents {
		ch.client(ctx, channels)
		ev := ch.event()
		if ev == "redis" {
			redisRestarts++
		}
		_ = sleep.For(ctx, time.Duration(100+ch.rng.IntN(900))*time.Millisecond)
	}

	// Settle: every PUT answered, every dropped session re-attached.
	if !waitGroup(&ch.puts, 90*time.Second) {
		t.Fatalf("weight changes not answered within 90s; events %v", ch.log)
	}
	if !waitGroup(&ch.clients, 30*time.Second) {
		t.Fatalf("late clients not connected or subscribed within 30s")
	}
	if len(ch.lateErrs) > 0 {
		t.Errorf("late clients: %v", ch.lateErrs)
	}
	late := len(ch.late)
	for _, lc := range ch.late {
		f.gf.clients = append(f.gf.clients, lc)
		ch.users = append(ch.users, lc.spec.User)
	}
	t.Cleanup(func() {
		for _, lc := range ch.late {
			lc.close()
		}
	})
	nGo := chaosGo + late
	st := c.waitStatus(t, 60*time.Second, func(st admin.Status) bool {
		return st.Sessions.Detached == 0 && st.Moves.Reattached+st.Moves.ReattachFailed >= st.Moves.Drops
	})
	t.Logf("settled: sessions %+v moves %+v", st.Sessions, st.Moves)
	// A PUT with the weight in force places again the sessions a failed
	// move or a re-attach left elsewhere (docs/architecture.md).
	final := ch.issued
	res, err := c.setWeight(final)
	if err != nil {
		t.Fatal(err)
	}
	ch.moved += res.Moved
	ch.failed += res.Failed
	if res.Failed != 0 {
		t.Errorf("final PUT weight %v: %+v, want no failure", final, res)
	}
	_ = sleep.For(ctx, time.Second) // traffic on the final placement
	reqOK, reqErrs := req.stop()
	last := pub.stop()
	t.Logf("publisher: %d sent, %d errors (last %v; %d Redis restarts); requests %d ok, %d refused",
		pub.sent.Load(), pub.errs.Load(), pub.lastErr, redisRestarts, reqOK, reqErrs)
	if redisRestarts == 0 && pub.errs.Load() > 0 {
		t.Errorf("publisher errors without a Redis restart: %d, last %v", pub.errs.Load(), pub.lastErr)
	}

	// The counters and the placement, before the node fleet closes
	// its clients (verify).
	blue, green := expectedCounts(t, ch.users, final)
	st = c.waitStatus(t, 30*time.Second, func(st admin.Status) bool { return st.Sessions.Standby == 0 })
	t.Logf("final: weight %v sessions %+v moves %+v messages %+v edge %v", st.Weight, st.Sessions, st.Moves, st.Messages, st.Edge)
	if st.Weight != final || st.Sessions.Blue != blue || st.Sessions.Green != green || st.Sessions.Detached != 0 {
		t.Errorf("weight %v: status weight %v sessions %+v, buckets say blue %d green %d", final, st.Weight, st.Sessions, blue, green)
	}
	m := st.Moves
	if m.ReattachFailed != 0 || m.AttachFailed != 0 || m.Reattached != m.Drops {
		t.Errorf("moves %+v: want every drop re-attached, nothing refused", m)
	}
	// No PUT here is called off (ch.putErr), so a canceled move can only
	// be a retry that a weight change or a preparation stopped
	// (docs/api.md): each is counted in retried too.
	if m.Canceled > m.Retried {
		t.Errorf("moves %+v: more canceled than retried, yet no weight change was called off", m)
	}
	// A client that connects during a change is put where the new table
	// says by a move the change's answer does not count (docs/api.md), and
	// so is a retry of a misplaced session (moves.retried).
	if m.Done < uint64(ch.moved) || m.Failed < uint64(ch.failed) || m.Done+m.Failed > uint64(ch.moved+ch.failed+late)+m.Retried {
		t.Errorf("moves %+v: the PUT answers add up to moved %d failed %d, and %d clients connected during the changes", m, ch.moved, ch.failed, late)
	}
	if len(ch.putErr) > 0 {
		t.Errorf("weight changes refused: %v", ch.putErr)
	}
	msg := st.Messages
	// Recovered also counts channels a backend reported lost
	// (subscription_lost: a reference service whose Redis restarted may
	// end a channel it could not catch up), so it may exceed Gaps.
	if msg.RecoveryFailed != 0 || msg.Rejected != 0 || msg.Recovered < msg.Gaps {
		t.Errorf("messages %+v: want every gap recovered, nothing rejected", msg)
	}
	if e, ok := st.Edge.(map[string]any); ok {
		if e["legacy"] != float64(nGo) || e["socketio"] != float64(chaosNode) || e["slow_consumers"] != float64(0) || e["attach_failed"] != float64(0) {
			t.Errorf("edge %v: want %d legacy and %d socketio connections, no slow consumer", e, nGo, chaosNode)
		}
	} else {
		t.Errorf("status has no edge: %v", st.Edge)
	}
	// Every session live on its routed backend, with exactly its
	// channels, after all those drops, re-attaches and moves.
	members := slices.Clone(f.members)
	for _, lc := range ch.late {
		lc.check.mu.Lock()
		members = append(members, member{id: lc.lc.Session(), user: lc.spec.User, channels: sortedCopy(lc.check.channels)})
		lc.check.mu.Unlock()
	}
	c.checkSessions(t, members, routeTable(t, final).Backend)
	// One upstream connection per session, besides the probes'.
	var extra map[string]int
	if !testenv.Poll(20*time.Second, func() bool {
		extra = ch.upstreamExtra(t)
		return extra["blue"] == base["blue"] && extra["green"] == base["green"]
	}) {
		t.Errorf("upstream connections besides one per session: %v, at the start %v", extra, base)
	}
	f.verify(t, last)

	// The node fleet has closed its clients: their sessions must be gone
	// with everything they held, upstream connections and goroutines.
	if !testenv.Poll(20*time.Second, func() bool {
		st, err = c.status()
		return err == nil && st.Sessions.Blue+st.Sessions.Green == nGo && st.Sessions.Detached == 0
	}) {
		t.Fatalf("the node clients' sessions not all gone within 20s: %+v; left: %v", st, f.nodeLeft(c))
	}
	if !testenv.Poll(20*time.Second, func() bool {
		extra = ch.upstreamExtra(t)
		return extra["blue"] == base["blue"] && extra["green"] == base["green"]
	}) {
		t.Errorf("after the node clients left: upstream connections besides one per session: %v, at the start %v", extra, base)
	}
	ch.goroutines(t, nGo)
	// Two per session (the edge's reader, the backend connection's),
	// one per probe connection, and a few of the process' own.
	if want := 2*nGo + base["blue"] + base["green"] + 25; ch.nGoroutines > want {
		t.Errorf("gateway goroutines with %d sessions: %d, want at most %d", nGo, ch.nGoroutines, want)
	}
	t.Logf("preparations: %s", strings.Join(ch.prepares, "; "))
	if t.Failed() {
		t.Logf("events: %s", strings.Join(ch.log, "; "))
	}
	t.Logf("seed %d done in %v: %s", seed, time.Since(start).Round(time.Millisecond), strings.Join(ch.log, "; "))
}
