package scenario

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
)

// TestScenarioBackendSlowConsumer: green has a small per-connection queue
// (64 messages). Blue is frozen (SIGSTOP) while 500 messages are published,
// then killed: the gateway re-attaches its sessions to green with since =
// the last delivered seq, so green must replay ~500 messages to each. The
// clients must notice nothing and get every message once, in order.
//
// This guards the replay's flow control: green hands a history longer than
// the queue over a window at a time (service.ReplaySubscriber) instead of
// closing the gateway's new connection as a slow consumer right after the
// subscribe ack.
func TestScenarioBackendSlowConsumer(t *testing.T) {
	c := startCluster(t, clusterOptions{greenArgs: []string{"--queue-messages", "64"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	channels := c.channels(1)
	f := startFleets(t, ctx, c, 2, 2, channels, 1)

	c.blue.signal(syscall.SIGSTOP)
	var last uint64
	for range 500 {
		m, err := c.broker.Publish(ctx, channels[0], []byte(`{"while":"frozen"}`))
		if err != nil {
			t.Fatal(err)
		}
		last = m.Seq
	}
	c.blue.kill()
	st := c.waitStatus(t, 60*time.Second, func(st admin.Status) bool {
		return st.Moves.Drops > 0 && st.Moves.Reattached+st.Moves.ReattachFailed >= st.Moves.Drops && st.Sessions.Detached == 0
	})
	t.Logf("after blue's end: sessions %+v moves %+v", st.Sessions, st.Moves)
	if st.Moves.ReattachFailed != 0 || st.Sessions.Green != len(f.members) {
		t.Errorf("re-attaches failed: sessions %+v moves %+v", st.Sessions, st.Moves)
	}
	f.verify(t, map[string]uint64{channels[0]: last})
}
