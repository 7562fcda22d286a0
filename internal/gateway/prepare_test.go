package gateway_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// TestPrepareWeight: a preparation for weight 50 dials green for exactly
// the sessions that weight moves, and changes nothing else; the change to
// 50 under publishing load then moves them without dialing, every message
// once and in order; a later change to 100 dials for the others, and no
// prepared connection is left over.
func TestPrepareWeight(t *testing.T) {
	var greenDials atomic.Int64
	e := setupWrapped(t, 0, nil, func(d upstream.Dialer) upstream.Dialer { return countDials{d, &greenDials} })
	ctx := testenv.Context(t, 60*time.Second)
	channels := []string{"a", "b", "c"}
	clients := e.attach(t, 60, channels)
	p := sessiontest.Publish(e.b, 5*time.Millisecond, channels...)

	half := router.Full / 2
	next, err := e.g.Router().Table().WithWeight(half)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, c := range clients {
		if next.Backend(c.s.User()) == router.Green {
			want++
		}
	}
	prepared, failed, err := e.g.PrepareWeight(ctx, half)
	if err != nil || failed != 0 || prepared != want {
		t.Fatalf("prepare 50: prepared %d, failed %d, %v; want %d prepared", prepared, failed, err, want)
	}
	if n := greenDials.Load(); n != int64(want) {
		t.Errorf("green dialed %d times for %d sessions to prepare", n, want)
	}
	if w := e.g.Router().Table().Weight(); w != 0 {
		t.Errorf("weight %v after a preparation; want it unchanged", w)
	}
	e.checkPlacement(t, clients) // all still on blue
	if st := e.g.Status(); st.Sessions.Standby != want {
		t.Errorf("%d standbys after preparing %d", st.Sessions.Standby, want)
	}

	greenDials.Store(0)
	moved, failed, err := e.g.SetWeight(ctx, half)
	if err != nil || failed != 0 || moved != want {
		t.Fatalf("weight 50: moved %d, failed %d, %v; want %d moved", moved, failed, err, want)
	}
	if n := greenDials.Load(); n != 0 {
		t.Errorf("the move to 50 dialed green %d times; want the prepared connections used", n)
	}
	e.checkPlacement(t, clients)
	if n := e.green.Conns(); n != want {
		t.Errorf("green holds %d connections for %d sessions", n, want)
	}

	greenDials.Store(0)
	if _, failed, err := e.g.SetWeight(ctx, router.Full); err != nil || failed != 0 {
		t.Fatalf("weight 100: failed %d, %v", failed, err)
	}
	if n := greenDials.Load(); n != int64(len(clients)-want) {
		t.Errorf("the move to 100 dialed green %d times for %d unprepared sessions", n, len(clients)-want)
	}
	e.checkPlacement(t, clients)
	stopAndCheck(t, p, clients)
	testenv.Eventually(t, "blue to be left", 15*time.Second, func() bool { return e.blue.Conns() == 0 })
	if st := e.g.Status(); st.Sessions.Standby != 0 || st.Messages.Gaps != 0 || st.Moves.Failed != 0 {
		t.Errorf("status %+v", st)
	}
}

// TestPreparedConnectionsNotUsedAreClosed: connections prepared for a
// weight the next change does not reach are closed once that change is
// done (the TTL is far off); and, without any change, after the TTL.
func TestPreparedConnectionsNotUsedAreClosed(t *testing.T) {
	t.Run("after-the-change", func(t *testing.T) {
		e := setup(t, 0)
		ctx := testenv.Context(t, 60*time.Second)
		clients := e.attach(t, 40, []string{"a", "b"})
		prepared, _, err := e.g.PrepareWeight(ctx, router.Full)
		if err != nil || prepared != len(clients) {
			t.Fatalf("prepare 100: prepared %d, %v", prepared, err)
		}
		moved, failed, err := e.g.SetWeight(ctx, router.Full/4)
		if err != nil || failed != 0 {
			t.Fatalf("weight 25: failed %d, %v", failed, err)
		}
		e.checkPlacement(t, clients)
		testenv.Eventually(t, "the unused prepared connections to close", 15*time.Second, func() bool {
			return e.green.Conns() == moved && e.g.Status().Sessions.Standby == 0
		})
	})
	t.Run("after-the-ttl", func(t *testing.T) {
		e := setupOptions(t, 0, nil, nil, func(o *gateway.Options) { o.PrepareTTL = 300 * time.Millisecond })
		ctx := testenv.Context(t, 60*time.Second)
		clients := e.attach(t, 40, []string{"a", "b"})
		prepared, _, err := e.g.PrepareWeight(ctx, router.Full)
		if err != nil || prepared != len(clients) {
			t.Fatalf("prepare 100: prepared %d, %v", prepared, err)
		}
		testenv.Eventually(t, "the prepared connections to close after the TTL", 15*time.Second, func() bool {
			return e.green.Conns() == 0 && e.g.Status().Sessions.Standby == 0
		})
		e.checkPlacement(t, clients)
	})
}

// TestPrepareWithGreenDown: dials that fail are counted, and the
// sessions stay on blue, untouched; the weight change that follows
// reports its own failures the same way.
func TestPrepareWithGreenDown(t *testing.T) {
	refuse := func(d upstream.Dialer) upstream.Dialer { return refusingDialer{d} }
	e := setupWrapped(t, 0, nil, refuse)
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 20, []string{"a"})
	prepared, failed, err := e.g.PrepareWeight(ctx, router.Full)
	if err != nil || prepared != 0 || failed != len(clients) {
		t.Fatalf("prepare with green down: prepared %d, failed %d, %v; want 0 and %d", prepared, failed, err, len(clients))
	}
	for _, c := range clients {
		if got, live := c.s.Attached(); got != router.Blue || !live {
			t.Errorf("%s: on %v (live %v) after a failed preparation", c.s.User(), got, live)
		}
	}
	if st := e.g.Status(); st.Sessions.Standby != 0 {
		t.Errorf("%d standbys after failed dials", st.Sessions.Standby)
	}
}

// refusingDialer fails every dial, as a backend that is down.
type refusingDialer struct{ upstream.Dialer }

func (refusingDialer) Dial(context.Context, upstream.Handler) (upstream.Conn, error) {
	return nil, errors.New("connection refused")
}

// TestPreparedConnectionsExpireAfterALongPreparation: a preparation that
// takes longer than the TTL (slow pacing, many sessions) still has its
// connections closed a TTL after it, when no weight change comes.
func TestPreparedConnectionsExpireAfterALongPreparation(t *testing.T) {
	const ttl = 200 * time.Millisecond
	e := setupOptions(t, 0, nil, nil, func(o *gateway.Options) {
		o.PrepareTTL = ttl
		o.MovesPerSecond = 20 // 20 sessions: about a second of dials
	})
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 20, []string{"a", "b"})
	start := time.Now()
	prepared, _, err := e.g.PrepareWeight(ctx, router.Full)
	if err != nil || prepared != len(clients) {
		t.Fatalf("prepare 100: prepared %d, %v", prepared, err)
	}
	if took := time.Since(start); took < 2*ttl {
		t.Skipf("the preparation took %v, not longer than the TTL", took)
	}
	testenv.Eventually(t, "the prepared connections to close after the TTL", 10*time.Second, func() bool {
		return e.green.Conns() == 0 && e.g.Status().Sessions.Standby == 0
	})
	e.checkPlacement(t, clients)
}

// TestWeightChangePreemptsPreparation: a weight change, above all an
// emergency rollback, does not wait for a preparation still dialing (an
// operator's POST /api/v1/weight/prepare towards a green that has stopped
// answering handshakes, each dial waiting for handover.timeout): the
// preparation stops and the change runs at once.
func TestWeightChangePreemptsPreparation(t *testing.T) {
	var hang atomic.Bool
	began := make(chan struct{}, 1)
	e := setupWrapped(t, router.Full/2, nil, func(d upstream.Dialer) upstream.Dialer {
		return hangingWhen{hangingDialer{d, began}, &hang}
	})
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 20, []string{"a", "b"})
	hang.Store(true) // green's handshakes hang from now on

	type result struct {
		prepared, failed int
		err              error
	}
	done := make(chan result, 1)
	go func() {
		prepared, failed, err := e.g.PrepareWeight(ctx, router.Full)
		done <- result{prepared, failed, err}
	}()
	<-began

	rctx, cancel := context.WithTimeout(ctx, 5*time.Second) // far less than handover.timeout
	defer cancel()
	if _, failed, err := e.g.SetWeightPaced(rctx, 0, gateway.Unpaced); err != nil || failed != 0 {
		t.Fatalf("emergency rollback during a preparation: failed %d, %v", failed, err)
	}
	e.checkPlacement(t, clients)
	r := <-done
	if !errors.Is(r.err, gateway.ErrPreempted) || r.prepared != 0 || r.failed != 0 {
		t.Errorf("the preempted preparation: prepared %d, failed %d, %v; want 0, 0, %v", r.prepared, r.failed, r.err, gateway.ErrPreempted)
	}
}

// hangingWhen is a hangingDialer while on is set, and dials through
// otherwise.
type hangingWhen struct {
	hangingDialer
	on *atomic.Bool
}

func (d hangingWhen) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	if d.on.Load() {
		return d.hangingDialer.Dial(ctx, h)
	}
	return d.hangingDialer.Dialer.Dial(ctx, h)
}
