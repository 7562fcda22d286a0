package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// hungBackend accepts TCP connections and never answers on them, as a
// backend process that hangs does. It returns the backend's address.
func hungBackend(t *testing.T) string {
	t.Helper()
	return testenv.MuteListener(t)
}

// switchDialer dials through whichever dialer was set last.
type switchDialer struct {
	d atomic.Pointer[upstream.Dialer]
}

func newSwitchDialer(d upstream.Dialer) *switchDialer {
	s := new(switchDialer)
	s.set(d)
	return s
}

func (s *switchDialer) set(d upstream.Dialer) { s.d.Store(&d) }

func (s *switchDialer) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	return (*s.d.Load()).Dial(ctx, h)
}

func (s *switchDialer) Protocol() config.Protocol { return (*s.d.Load()).Protocol() }

// TestHungGreenShowsDown: green hangs (it accepts TCP and never answers
// the Engine.IO handshake). Every move to it times out and fails, and
// the status must say that green is down, as it does for a green that
// refuses connections. With handover.timeout no longer than the dial
// timeout (5 s each by default), the move's deadline ends the dial first,
// and that used to count as "not the backend's fault": green stayed "up".
func TestHungGreenShowsDown(t *testing.T) {
	const timeout = time.Second // handover.timeout = the dial timeout, as by default
	var green *switchDialer
	e := setupOptions(t, 0, nil, func(d upstream.Dialer) upstream.Dialer {
		green = newSwitchDialer(d)
		return green
	}, func(o *gateway.Options) { o.Handover.Timeout = timeout })
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 4, []string{"a"})
	e.g.Check(ctx)
	if st := e.g.Status(); !st.Backends.Green.Up {
		t.Fatalf("green down before it hung: %+v", st.Backends.Green)
	}

	green.set(&upstream.SocketIODialer{Options: upstream.Options{URL: "http://" + hungBackend(t) + "/socket.io/", DialTimeout: timeout}})
	moved, failed, err := e.g.SetWeight(ctx, router.Full)
	if err != nil || moved != 0 || failed != len(clients) {
		t.Fatalf("moved %d failed %d (%v), want every move failed", moved, failed, err)
	}
	st := e.g.Status()
	if st.Moves.Failed != uint64(len(clients)) {
		t.Errorf("moves.failed %d, want %d", st.Moves.Failed, len(clients))
	}
	if st.Backends.Green.Up || st.Backends.Green.LastError == "" {
		t.Errorf("green hung and every move to it timed out, status says %+v, want down with the error", st.Backends.Green)
	}
	for _, c := range clients {
		if col, live := c.s.Attached(); col != router.Blue || !live {
			t.Errorf("session %s on %v (live %v), want still on blue", c.s.ID(), col, live)
		}
	}
}
