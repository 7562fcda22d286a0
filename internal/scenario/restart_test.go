package scenario

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// TestScenarioStreamRestartOnGreen: a legacy client's session sits on green
// (Socket.IO) with two channels when Redis loses one channel's stream (its
// keys vanish, as after a restart without persistence) and the next
// publish starts a new epoch. Green closes the connection of the channel's
// members, and the gateway re-attaches the session. The client must be
// told the lost channel the legacy way (subscription_lost) and keep its
// connection and its other channel, as it would talking to blue directly
// (docs/architecture.md: "Through the gateway the client is told the same
// way") — not be closed as if no backend could take it.
func TestScenarioStreamRestartOnGreen(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.setWeight(100); err != nil {
		t.Fatal(err)
	}
	chs := c.channels(2)
	lost, kept := chs[0], chs[1]
	for _, ch := range chs {
		for range 3 {
			if _, err := c.broker.Publish(ctx, ch, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	lc, err := legacyclient.Dial(ctx, "ws://"+c.edgeAddr+"/ws?user=restart", legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lc.Close() }()
	for _, ch := range chs {
		if _, err := lc.Subscribe(ctx, ch, nil); err != nil {
			t.Fatal(err)
		}
	}
	if in, err := c.session(lc.Session()); err != nil || in.Backend != "green" {
		t.Fatalf("session %+v (%v), want on green", in, err)
	}
	wantMessage := func(ch string, seq uint64) {
		t.Helper()
		for {
			select {
			case m, ok := <-lc.Messages():
				if !ok {
					t.Fatalf("client closed waiting for %s seq %d: %v", ch, seq, lc.Err())
				}
				if m.Channel == ch && m.Seq >= seq {
					if m.Seq != seq {
						t.Fatalf("%s: seq %d, want %d", ch, m.Seq, seq)
					}
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s seq %d", ch, seq)
			}
		}
	}
	m, err := c.broker.Publish(ctx, lost, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	wantMessage(lost, m.Seq)

	// Redis loses the lost channel's stream; the next publish starts a
	// new epoch.
	rdb := redis.NewClient(&redis.Options{Addr: c.redis})
	defer func() { _ = rdb.Close() }()
	base := redisbroker.DefaultPrefix + "{" + lost + "}"
	if err := rdb.Del(ctx, base+":m", base+":h").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.broker.Publish(ctx, lost, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}

	select {
	case ev, ok := <-lc.Events():
		if !ok {
			t.Fatalf("client closed instead of told %s was lost: %v", lost, lc.Err())
		}
		if ev.Type != legacy.TypeError || ev.Code != legacy.CodeSubscriptionLost || ev.Channel != lost {
			t.Fatalf("event %+v, want error subscription_lost on %s", ev, lost)
		}
	case <-ctx.Done():
		t.Fatalf("client not told %s was lost", lost)
	}
	// The other channel goes on, on the same connection.
	if m, err = c.broker.Publish(ctx, kept, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	wantMessage(kept, m.Seq)
	st, err := c.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions.Green != 1 || st.Moves.ReattachFailed != 0 {
		t.Errorf("status sessions %+v moves %+v, want the session kept on green", st.Sessions, st.Moves)
	}
}
