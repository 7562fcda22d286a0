package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// hangingDialer dials nothing: it waits for its context, and says when a
// dial has begun.
type hangingDialer struct {
	upstream.Dialer
	began chan struct{}
}

func (d hangingDialer) Dial(ctx context.Context, _ upstream.Handler) (upstream.Conn, error) {
	select {
	case d.began <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// A weight change called off while its moves are under way (its caller
// gone, a pause, a shutdown) leaves those sessions where they were, as
// the moves not started yet: they count as canceled, not as failed, in
// the change's answer and in the status, so that an operator's Ctrl-C
// on a PUT does not read as backends failing.
func TestCanceledMovesAreNotFailures(t *testing.T) {
	began := make(chan struct{}, 1)
	e := setupWrapped(t, 0, nil, func(d upstream.Dialer) upstream.Dialer { return hangingDialer{d, began} })
	clients := e.attach(t, 8, []string{"a"})
	ctx, cancel := context.WithCancel(testenv.Context(t, 30*time.Second))
	go func() {
		<-began
		cancel()
	}()
	moved, failed, err := e.g.SetWeightPaced(ctx, router.Full, 0)
	if err == nil {
		t.Fatal("the called-off weight change reported no error")
	}
	st := e.g.Status()
	if failed != 0 || st.Moves.Failed != 0 {
		t.Errorf("failed %d in the answer, %d in the status; want 0 and 0", failed, st.Moves.Failed)
	}
	if moved != 0 || st.Moves.Canceled == 0 {
		t.Errorf("moved %d, canceled %d in the status; want 0 moved and the moves under way canceled", moved, st.Moves.Canceled)
	}
	for _, c := range clients {
		if col, live := c.s.Attached(); col != router.Blue || !live {
			t.Errorf("session %s on %v (live %v), want still on blue", c.s.ID(), col, live)
		}
	}
}

// TestWeightGivenUpWhileWaitingIsNotApplied: a weight change waits for
// one already under way (here a move to a green that accepts TCP and
// never answers the upgrade). One whose caller gives up while it waits
// (an admin PUT whose client hung up, a CLI --timeout) returns before
// applying its weight: the weight in force stays the one before, and the
// error says so (ErrNotApplied), so that nobody records a weight this
// gateway never applied. The change under way, cut off in turn, had
// applied its weight, and does not say so.
func TestWeightGivenUpWhileWaitingIsNotApplied(t *testing.T) {
	e := setupWrapped(t, 0, nil, func(upstream.Dialer) upstream.Dialer {
		return &upstream.SocketIODialer{Options: upstream.Options{URL: "http://" + hungBackend(t) + "/socket.io/", DialTimeout: time.Minute}}
	})
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 1, []string{"a"})

	firstCtx, cancelFirst := context.WithCancel(ctx)
	defer cancelFirst()
	first := make(chan error, 1)
	go func() {
		_, _, err := e.g.SetWeightPaced(firstCtx, router.Full, 0)
		first <- err
	}()
	// The weight is applied under the lock the first change holds until
	// its move, which green never answers, ends.
	testenv.Eventually(t, "the first change to apply its weight", 10*time.Second, func() bool {
		return e.g.Status().Weight == router.Full
	})

	// Already ended, the second caller's ctx ends its wait for that lock.
	secondCtx, cancelSecond := context.WithCancel(ctx)
	cancelSecond()
	moved, failed, err := e.g.SetWeightPaced(secondCtx, router.Weight(5000), 0)
	if !errors.Is(err, gateway.ErrNotApplied) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not applied") {
		t.Errorf("change given up while another was under way: %v, want ErrNotApplied (saying so) and context.Canceled", err)
	}
	if moved != 0 || failed != 0 {
		t.Errorf("change given up: moved %d failed %d, want 0 and 0", moved, failed)
	}
	if w := e.g.Status().Weight; w != router.Full {
		t.Errorf("weight %v after the change given up, want the first change's %v", w, router.Full)
	}

	cancelFirst()
	if err := <-first; errors.Is(err, gateway.ErrNotApplied) {
		t.Errorf("first change, cut off after applying its weight: %v, want no ErrNotApplied", err)
	}
	if w := e.g.Status().Weight; w != router.Full {
		t.Errorf("weight %v after the first change was cut off, want it to stay %v", w, router.Full)
	}
	if col, live := clients[0].s.Attached(); col != router.Blue || !live {
		t.Errorf("session on %v (live %v), want still on blue", col, live)
	}
}

// The same when every move had started before the change was called off
// (here its one move): the moves under way are called off too, so the
// change did not run to its end, and it must say so, or an admin PUT
// would answer 200 and a rollout step count as applied with its sessions
// left where they were.
func TestChangeCalledOffAfterItsLastMoveStartedSaysSo(t *testing.T) {
	began := make(chan struct{}, 1)
	e := setupWrapped(t, 0, nil, func(d upstream.Dialer) upstream.Dialer { return hangingDialer{d, began} })
	clients := e.attach(t, 1, []string{"a"})
	ctx, cancel := context.WithCancel(testenv.Context(t, 30*time.Second))
	go func() {
		<-began
		cancel()
	}()
	moved, failed, err := e.g.SetWeightPaced(ctx, router.Full, 0)
	if !errors.Is(err, context.Canceled) || errors.Is(err, gateway.ErrNotApplied) {
		t.Errorf("change called off during its only move: moved %d failed %d err %v; want context.Canceled (and the weight applied)", moved, failed, err)
	}
	if w := e.g.Status().Weight; w != router.Full {
		t.Errorf("weight %v, want %v applied", w, router.Full)
	}
	if col, live := clients[0].s.Attached(); col != router.Blue || !live {
		t.Errorf("session on %v (live %v), want still on blue", col, live)
	}
}

// A closed gateway applies no weight either: whoever records the weight
// in force (rollout.Controller.SetWeightByHand) must be told so.
func TestWeightOnAClosedGatewayIsNotApplied(t *testing.T) {
	e := setup(t, 0)
	ctx := testenv.Context(t, 10*time.Second)
	if err := e.g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.g.SetWeightPaced(ctx, router.Full, 0)
	if !errors.Is(err, gateway.ErrNotApplied) || !errors.Is(err, gateway.ErrClosed) {
		t.Errorf("weight change on a closed gateway: %v, want ErrNotApplied and ErrClosed", err)
	}
	if w := e.g.Status().Weight; w != 0 {
		t.Errorf("weight %v on the closed gateway, want 0", w)
	}
}
