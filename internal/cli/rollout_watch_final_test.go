package cli

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/testenv"
)

// movingGateway is cliGateway with session counts a test changes, as
// the moves of a rollback change them.
type movingGateway struct {
	cliGateway
	mu          sync.Mutex
	blue, green int
}

func (g *movingGateway) Status() gateway.Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return gateway.Status{Sessions: gateway.SessionCounts{Blue: g.blue, Green: g.green}}
}

func (g *movingGateway) set(blue, green int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blue, g.green = blue, green
}

// TestWatchLastLineHasTheFinalCounts: the last status line of watch
// shows the sessions as the rollout left them, not those of the metrics
// tick before its end: right after a rollback moved green's 200 sessions
// back, it says blue 200, green 0.
func TestWatchLastLineHasTheFinalCounts(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	gw := &movingGateway{blue: 0, green: 200}
	ro := shiftingRollout(t)
	// One metrics tick, right after the stream's status: no later tick
	// can refresh the counts before the end.
	api, err := admin.New(admin.Options{Gateway: gw, Token: cliToken, Rollout: ro,
		Stream: admin.StreamOptions{MetricsInterval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	defer func() {
		ctx := testenv.Context(t, 5*time.Second)
		_ = api.Shutdown(ctx)
	}()
	stdout, stderr, code := runBaton(testenv.Context(t, 20*time.Second),
		"rollout", "watch", "--plain", "--admin", srv.URL, "--token", cliToken)
	testenv.Eventually(t, "the first metrics line", 5*time.Second, func() bool {
		return strings.Contains(stdout.String(), "green 200 sessions")
	})
	gw.set(200, 0)
	ro.emit(rollout.Event{Kind: rollout.EventGateFailed}, func(s *rollout.State) {
		s.Phase, s.Weight, s.Reason = rollout.RollingBack, 0, "gate failed"
	})
	ro.emit(rollout.Event{Kind: rollout.EventRollbackFinished}, func(s *rollout.State) { s.Phase = rollout.RolledBack })
	if c := exited(t, code); c != exitRolledBack {
		t.Fatalf("exit %d, want %d; stderr: %s", c, exitRolledBack, stderr)
	}
	out := stdout.String()
	var last string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, " sessions err ") {
			last = l
		}
	}
	if !strings.Contains(last, "rolled_back") || !strings.Contains(last, "blue 200 sessions") || !strings.Contains(last, "green 0 sessions") {
		t.Fatalf("last status line %q, want rolled_back with blue 200 and green 0; stdout:\n%s", last, out)
	}
}
