package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// followerLive waits until the holder sees the follower in the exchange's
// gateways: only then does a step wait for it.
func followerLive(t *testing.T, h, f *App) {
	t.Helper()
	testenv.Eventually(t, "the holder to see the follower in the exchange", 10*time.Second, func() bool {
		for _, id := range h.redis.ZRange(context.Background(), h.exch.gateways, 0, -1).Val() {
			if id == f.exch.id {
				return true
			}
		}
		return false
	})
}

// TestHoldersStepWaitsForTheFollowersMoves: the follower moves slowly (4
// moves a second, 8 clients: about two seconds). The holder's step is
// applied, and its hold begins, only once the follower's sessions have
// all moved too; step_applied counts both gateways' moves.
func TestHoldersStepWaitsForTheFollowersMoves(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Steps = []float64{100}
	followerCfg.Handover.MovesPerSecond = 4
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs, fs := clients(t, h.App, 2), clients(t, f.App, 8)
	followerLive(t, h.App, f.App)

	events := h.Controller().Subscribe(64)
	defer events.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := h.Controller().Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for {
		var e rollout.Event
		select {
		case e = <-events.C():
		case <-ctx.Done():
			t.Fatal("no step_applied within a minute")
		}
		if e.Kind != rollout.EventStepApplied {
			continue
		}
		if gs := f.Gateway().Status(); gs.Sessions.Green != len(fs) {
			t.Fatalf("step_applied (%s) while the follower has %d of its %d sessions on green", e.Message, gs.Sessions.Green, len(fs))
		}
		if e.Moved != len(hs)+len(fs) || e.Failed != 0 {
			t.Errorf("step_applied counts %d moved, %d failed; want both gateways' %d moved", e.Moved, e.Failed, len(hs)+len(fs))
		}
		break
	}
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}

// stateGate is a TCP proxy to Redis that, while closed, holds every
// command of one kind on the rollout state (its writes, the store's
// script; or its reads) until it opens; the rest goes through.
type stateGate struct {
	addr     string
	stateKey []byte
	cmd      []byte       // the held command, lower case
	waiting  atomic.Int32 // commands held now
	mu       sync.Mutex
	open     chan struct{} // closed while the gate is open
}

// newStateWriteGate holds the state's writes.
func newStateWriteGate(t *testing.T, redisAddr, prefix string) *stateGate {
	return newStateGate(t, redisAddr, prefix, "eval")
}

// newStateReadGate holds the state's reads (GetState).
func newStateReadGate(t *testing.T, redisAddr, prefix string) *stateGate {
	return newStateGate(t, redisAddr, prefix, "hmget")
}

func newStateGate(t *testing.T, redisAddr, prefix, cmd string) *stateGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &stateGate{addr: ln.Addr().String(), stateKey: []byte(prefix + "{store}:state"), cmd: []byte(cmd), open: make(chan struct{})}
	close(g.open)
	var conns sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		g.release()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r, err := net.Dial("tcp", redisAddr)
			if err != nil {
				_ = c.Close()
				continue
			}
			conns.Go(func() { _, _ = io.Copy(c, r); _ = c.Close() })
			conns.Go(func() {
				defer r.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						b := buf[:n]
						if bytes.Contains(b, g.stateKey) && bytes.Contains(bytes.ToLower(b), g.cmd) {
							g.mu.Lock()
							open := g.open
							g.mu.Unlock()
							select {
							case <-open:
							default:
								g.waiting.Add(1)
								<-open
								g.waiting.Add(-1)
							}
						}
						if _, werr := r.Write(b); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	}()
	return g
}

// hold closes the gate: state writes wait.
func (g *stateGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

// release opens it.
func (g *stateGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// TestFollowerRollsBackBeforeTheHoldersStateWrite: after a completed
// rollout, the holder's state writes are held (a slow store); an
// emergency rollback on the holder moves the follower's sessions to blue
// all the same, from the holder's emergency notice, before the state
// says so. Once the state is written, nothing moves back.
func TestFollowerRollsBackBeforeTheHoldersStateWrite(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Steps = []float64{100}
	gate := newStateWriteGate(t, testenv.RedisAddr(t), holderCfg.Rollout.Store.Prefix)
	holderCfg.Rollout.Store.URL = "redis://" + gate.addr
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs, fs := clients(t, h.App, 4), clients(t, f.App, 8)

	if st := runRollout(t, h.Controller()); st.Phase != rollout.Completed {
		t.Fatalf("rollout ended %s: %s; %s", st.Phase, st.Reason, lastVerdict(st))
	}
	testenv.Eventually(t, "the follower's sessions on green", 10*time.Second, func() bool {
		return f.Gateway().Status().Sessions.Green == len(fs)
	})

	gate.hold()
	done := make(chan error, 1)
	go func() {
		_, err := h.Controller().EmergencyRollback(context.Background())
		done <- err
	}()
	testenv.Eventually(t, "the follower's sessions on blue while the holder's state write is held", 4*time.Second, func() bool {
		gs := f.Gateway().Status()
		return gs.Weight == 0 && gs.Sessions.Blue == len(fs)
	})
	gate.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rolled := waitPhase(t, h.Controller(), 30*time.Second, rollout.RolledBack)
	testenv.Eventually(t, "the follower to show the rolled-back state", 10*time.Second, func() bool {
		return f.role.Status().Phase == rollout.RolledBack && f.role.Status().ID == rolled.ID
	})
	if gs := f.Gateway().Status(); gs.Weight != 0 || gs.Sessions.Blue != len(fs) {
		t.Errorf("the follower after the stored rollback: weight %v, %+v", gs.Weight, gs.Sessions)
	}
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}

// A stale notice never moves a follower: only the notice of the stored
// rollout, written after the stored state, and once.
func TestEmergencyNoticeAppliesOnlyAheadOfTheState(t *testing.T) {
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	n := emergencyNotice{ID: "r-1", At: at}
	before := rollout.State{ID: "r-1", Phase: rollout.Completed, UpdatedAt: at.Add(-time.Second)}
	for _, tc := range []struct {
		name  string
		st    rollout.State
		begun string
		want  bool
	}{
		{"ahead of the state", before, "", true},
		{"already begun", before, "r-1", false},
		{"state written since (the emergency stored, a weight set by hand)", rollout.State{ID: "r-1", Phase: rollout.RolledBack, UpdatedAt: at.Add(time.Millisecond)}, "", false},
		{"another rollout", rollout.State{ID: "r-2", Phase: rollout.Shifting, UpdatedAt: at.Add(-time.Hour)}, "", false},
		{"no state read yet", rollout.State{Phase: rollout.Idle}, "", false},
	} {
		if got := noticeApplies(n, tc.st, tc.begun); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestWeightSetByHandWaitsForTheFollowersMoves: PUT /api/v1/weight on the
// holder answers once the follower, moving slowly (4 moves a second, 8
// clients), has applied the weight too, as a rollout's step waits.
func TestWeightSetByHandWaitsForTheFollowersMoves(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	followerCfg.Handover.MovesPerSecond = 4
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs, fs := clients(t, h.App, 2), clients(t, f.App, 8)
	followerLive(t, h.App, f.App)

	if code, body := adminSend(t, h.App, http.MethodPut, "/api/v1/weight", `{"weight":100}`); code != http.StatusOK {
		t.Fatalf("PUT weight 100: %d %s", code, body)
	}
	if gs := f.Gateway().Status(); gs.Weight != router.Full || gs.Sessions.Green != len(fs) {
		t.Fatalf("PUT weight answered while the follower stands at %v with %d of its %d sessions on green", gs.Weight, gs.Sessions.Green, len(fs))
	}
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}

// TestWeightSetByHandOvertakenByARolloutAnswersOnceTheFollowersMoveOn:
// PUT /api/v1/weight 30 on the holder, then a rollout started at once
// (its one step at 100%), while the follower's reads of the state are
// held: the follower goes from the weight it stood at straight to the
// step's, and never records 30. The PUT answers once the follower has
// applied that later stored weight, not after followersWait.
func TestWeightSetByHandOvertakenByARolloutAnswersOnceTheFollowersMoveOn(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Steps = []float64{100}
	gate := newStateReadGate(t, testenv.RedisAddr(t), followerCfg.Rollout.Store.Prefix)
	followerCfg.Rollout.Store.URL = "redis://" + gate.addr
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs, fs := clients(t, h.App, 2), clients(t, f.App, 4)
	followerLive(t, h.App, f.App)

	// The follower's run loop reads the state in turn: once one read is
	// held, its view stays the one from before the PUT.
	gate.hold()
	testenv.Eventually(t, "a read of the state by the follower to be held", 10*time.Second, func() bool { return gate.waiting.Load() > 0 })

	put := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*followersWait)
		defer cancel()
		put <- sendWeight(ctx, h.App, `{"weight":30}`)
	}()
	testenv.Eventually(t, "the holder to store the PUT's 30%", 10*time.Second, func() bool {
		return h.Controller().Status().Weight == router.Weight(3000)
	})
	// A start is refused until the PUT's weight is stored; then it goes.
	testenv.Eventually(t, "the rollout to start", 10*time.Second, func() bool {
		_, err := h.Controller().Start(context.Background(), nil)
		return err == nil
	})
	testenv.Eventually(t, "the holder to store the rollout's step at 100%", 10*time.Second, func() bool {
		st := h.Controller().Status()
		return st.Phase == rollout.Shifting && st.Weight == router.Full
	})
	gate.release()

	testenv.Eventually(t, "the follower's sessions on green", 10*time.Second, func() bool {
		gs := f.Gateway().Status()
		return gs.Weight == router.Full && gs.Sessions.Green == len(fs)
	})
	select {
	case answer := <-put:
		if answer != "200" {
			t.Fatalf("PUT weight 30: %s", answer)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("PUT weight 30 still waiting 10s after the follower applied the rollout's step: it waits (up to %v) for a weight no follower will apply", followersWait)
	}
	if st := waitPhase(t, h.Controller(), 30*time.Second, rollout.Completed, rollout.RolledBack, rollout.Aborted); st.Phase != rollout.Completed {
		t.Fatalf("rollout ended %s: %s; %s", st.Phase, st.Reason, lastVerdict(st))
	}
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}

// sendWeight sends PUT /api/v1/weight with body to a; it returns the
// status code, or the code and body when not 200, or the error.
func sendWeight(ctx context.Context, a *App, body string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+a.AdminAddr()+"/api/v1/weight", strings.NewReader(body))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusOK {
		return "200"
	}
	b, _ := io.ReadAll(resp.Body)
	return strconv.Itoa(resp.StatusCode) + " " + string(b)
}

// TestEmergencyRollbackEndsTheStepsWaitForTheFollowers: the mirror of the
// above. The holder's step waits for a follower moving slowly (1 move a
// second, 20 clients); an emergency rollback on the holder calls that
// wait off at once (a weight set by hand is refused during a rollout, so
// only a command can overtake a step): the rollback ends, every session
// of both gateways on blue, long before the step's moves would have.
func TestEmergencyRollbackEndsTheStepsWaitForTheFollowers(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	holderCfg.Rollout.Steps = []float64{100}
	followerCfg.Handover.MovesPerSecond = 1
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs, fs := clients(t, h.App, 2), clients(t, f.App, 20)
	followerLive(t, h.App, f.App)

	if _, err := h.Controller().Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the holder's step, its own sessions moved, waiting for the follower's", 20*time.Second, func() bool {
		st := h.Controller().Status()
		pending, _, err := h.role.synced.followers(context.Background(), router.Full, 0, false)
		return st.Phase == rollout.Shifting && !st.Applied && h.Gateway().Status().Sessions.Green == len(hs) && err == nil && pending == 1
	})
	if _, err := h.Controller().EmergencyRollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, h.Controller(), 10*time.Second, rollout.RolledBack)
	if strings.Contains(st.Reason, "left") || strings.Contains(st.Reason, "error") {
		t.Errorf("rollback: %s", st.Reason)
	}
	for name, a := range map[string]*App{"holder": h.App, "follower": f.App} {
		if gs := a.Gateway().Status(); gs.Weight != 0 || gs.Sessions.Green != 0 {
			t.Errorf("the %s after the rollback: weight %v, %+v", name, gs.Weight, gs.Sessions)
		}
	}
	checkDelivery(t, fs)
	checkDelivery(t, hs)
}
