package app

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// seqRecorder keeps the seqs each client of clients (subscribed to
// room-i) receives, read as they come so that no client's buffer fills.
type seqRecorder struct {
	mu   sync.Mutex
	seqs [][]uint64
	wake chan struct{}
}

func recordSeqs(t *testing.T, cs []*legacyclient.Client) *seqRecorder {
	t.Helper()
	r := &seqRecorder{seqs: make([][]uint64, len(cs)), wake: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			for m := range c.Messages() {
				r.mu.Lock()
				r.seqs[i] = append(r.seqs[i], m.Seq)
				r.mu.Unlock()
				select {
				case r.wake <- struct{}{}:
				default:
				}
			}
		})
	}
	t.Cleanup(func() { // before the clients' own cleanups
		for _, c := range cs {
			_ = c.Close()
		}
		wg.Wait()
	})
	return r
}

// check waits until every client has its channel's last seq, then fails
// unless each got every seq from its first one to last once, in order.
func (r *seqRecorder) check(t *testing.T, last map[string]uint64) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for i := 0; i < len(r.seqs); {
		ch := fmt.Sprintf("room-%d", i)
		r.mu.Lock()
		got := r.seqs[i]
		r.mu.Unlock()
		if len(got) == 0 || got[len(got)-1] < last[ch] {
			select {
			case <-r.wake:
			case <-deadline:
				t.Fatalf("client %d: %d messages, the last %v, want up to seq %d", i, len(got), got[max(len(got)-1, 0):], last[ch])
			}
			continue
		}
		for j := 1; j < len(got); j++ {
			if got[j] != got[j-1]+1 {
				t.Fatalf("client %d on %s: seq %d after %d (want each seq once, in order)", i, ch, got[j], got[j-1])
			}
		}
		i++
	}
}

// nextEvent waits for the controller's next event of kind at step.
func nextEvent(t *testing.T, events *rollout.Subscription, kind rollout.EventKind, step int) rollout.Event {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case e, ok := <-events.C():
			if !ok {
				t.Fatalf("the event stream ended before %s of step %d", kind, step)
			}
			if e.Kind == kind && (e.Verdict == nil && e.Step == step || e.Verdict != nil && e.Verdict.Step == step) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s of step %d within a minute", kind, step)
		}
	}
}

// TestStepsFailedMovesArePlacedDuringItsHold: green turns away the first
// connections of a step's moves, then takes them again. Nothing changes
// the weight during the step's hold, yet by its gate the gateway has tried
// the failed moves again (handover.retry_backoff), and every session is
// where the step's weight puts it. Every client has each message of its
// channel once, in order, and the rollout tells it as docs/api.md says:
// the step's moved and failed (step_applied, history) are its weight
// change's, the retries are in the status's moves (done, retried), and
// the gate's preservation counts every move of the step, retries included.
func TestStepsFailedMovesArePlacedDuringItsHold(t *testing.T) {
	b := testBroker(t)
	blue, green := backendtest.Legacy(t, b), backendtest.SocketIO(t, b)
	cfg := testConfig(blue, green, "")
	cfg.Rollout.Steps = []float64{25, 50, 100}
	// The turned-away connections count as green's errors in step 2's gate,
	// over a few hundred probes.
	cfg.Rollout.Thresholds.MaxErrorRate = 0.2
	gp := testenv.StartProxy(t, urlHost(cfg.Backends.Green.URL))
	throughProxy(t, gp, &cfg.Backends.Green.URL)
	const hold = 3 * time.Second // the default retry_backoff (1s) and the retry's moves fit in it
	a := start(t, cfg, Options{TestHold: hold})
	n := 30
	cs := clients(t, a.App, n)
	seqs := recordSeqs(t, cs)
	channels := make([]string, n)
	for i := range channels {
		channels[i] = fmt.Sprintf("room-%d", i)
	}
	pub := sessiontest.Publish(b, 5*time.Millisecond, channels...)
	t.Cleanup(func() { _, _ = pub.Stop() }) // on a failure before the end's Stop

	_, at25 := a.Gateway().WouldMove(2500)
	_, at50 := a.Gateway().WouldMove(5000)
	step2 := at50 - at25
	if step2 < 2 {
		t.Fatalf("step 2 moves %d sessions: the test needs some to fail and some to pass", step2)
	}
	refused := step2 / 2

	c := a.Controller()
	events := c.Subscribe(256)
	defer events.Close()
	if _, err := c.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, events, rollout.EventStepApplied, 1); e.Moved != at25 || e.Failed != 0 {
		t.Fatalf("step 1: %s, want %d moved", e.Message, at25)
	}
	// In step 1's hold: the next connections to green are step 2's moves
	// (the probes keep theirs).
	gp.RefuseNext(refused)

	applied := nextEvent(t, events, rollout.EventStepApplied, 2)
	if applied.Moved != step2-refused || applied.Failed != refused {
		t.Errorf("step 2 applied: %s; want %d moved, %d failed", applied.Message, step2-refused, refused)
	}
	v := nextEvent(t, events, rollout.EventVerdict, 2).Verdict
	if v.Green.Sessions != at50 || v.Blue.Sessions != n-at50 {
		t.Errorf("step 2's gate, at the end of its hold, found %d sessions on green and %d on blue; want %d and %d (the failed moves tried again)",
			v.Green.Sessions, v.Blue.Sessions, at50, n-at50)
	}
	if p, tried := v.Preservation, uint64(step2+refused); p.MovesTried != tried || p.SocketsKept != tried || p.SubscriptionsTried != tried || p.SubscriptionsKept != tried {
		t.Errorf("step 2's preservation %+v, want its %d moves and %d retries, each kept with its channel", p, step2, refused)
	}

	st := waitPhase(t, c, time.Minute, rollout.Completed, rollout.RolledBack, rollout.Aborted)
	if st.Phase != rollout.Completed {
		t.Fatalf("rollout ended %s: %s; %s", st.Phase, st.Reason, lastVerdict(st))
	}
	if h := st.Steps[1]; h.Moved != step2-refused || h.Failed != refused {
		t.Errorf("step 2's history: %d moved, %d failed; want the weight change's %d and %d", h.Moved, h.Failed, step2-refused, refused)
	}
	gs := a.Gateway().Status()
	if gs.Weight != router.Full || gs.Sessions.Green != n {
		t.Errorf("after the rollout: weight %v, %+v", gs.Weight, gs.Sessions)
	}
	if m := gs.Moves; m.Done != uint64(n) || m.Failed != uint64(refused) || m.Retried != uint64(refused) || m.Canceled != 0 {
		t.Errorf("moves %+v: want %d done, the %d that failed once retried", m, n, refused)
	}
	last, err := pub.Stop()
	if err != nil {
		t.Fatal(err)
	}
	seqs.check(t, last)
}
