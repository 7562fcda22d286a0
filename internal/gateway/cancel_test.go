package gateway_test

import (
	"context"
	"testing"
	"time"

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
