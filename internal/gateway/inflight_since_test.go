package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// subscribeAnswer is what a client's subscribe got.
type subscribeAnswer struct {
	pos    uint64
	hasPos bool
	err    error
}

// carryOverRefused subscribes a client (Socket.IO if sioClient, else
// legacy) to channel a, with since unless it is nil, on a blue that sends
// messages 1 to early and then holds the ack (replaysAndHolds). Once the
// session has them, and ready says so (nil: at once), blue dies. Green,
// the reference service with nothing on channel a yet, refuses the since
// the carried-over subscribe derives from those messages (bad_since: it
// is ahead of green's stream). It returns the client, its session's
// environment and what its subscribe got.
func carryOverRefused(t *testing.T, ctx context.Context, opts edge.Options, sioClient bool, early int, since *uint64, ready func(*edgeClient) bool) (*env, *edgeClient, subscribeAnswer) {
	t.Helper()
	url, proxy, held := replaysAndHolds(t, early)
	e := setupWrapped(t, 0, func(upstream.Dialer) upstream.Dialer {
		return &upstream.SocketIODialer{Options: upstream.Options{URL: url, DialTimeout: 10 * time.Second}}
	}, nil)
	opts.RequestTimeout = 20 * time.Second // the re-attach runs under -race
	f := startFront(t, e, opts)
	var c *edgeClient
	if sioClient {
		c = f.dialSIO(t, ctx, "u1")
	} else {
		c = f.dialLegacy(t, ctx, "u1")
	}
	testenv.Eventually(t, "the session on blue", 10*time.Second, func() bool { return e.g.Status().Sessions.Blue == 1 })
	s := e.g.Sessions()[0]

	answer := make(chan subscribeAnswer, 1)
	go func() {
		var a subscribeAnswer
		a.pos, a.hasPos, a.err = c.subscribeAt(ctx, "a", since)
		answer <- a
	}()
	<-held
	testenv.Eventually(t, "blue's early messages delivered", 10*time.Second, func() bool {
		last, ok := s.Subscribed("a")
		return ok && last == uint64(early) && (ready == nil || ready(c))
	})
	proxy.Down()
	return e, c, <-answer
}

// refusedWith reports whether err is the gateway's error reply with code,
// to either client.
func refusedWith(err error, code string) bool {
	var se *legacyclient.ServerError
	var ae *sioclient.AckError
	return errors.As(err, &se) && se.Code == code || errors.As(err, &ae) && strings.HasPrefix(ae.Message, code+":")
}

// clientName names a subtest by its client.
func clientName(sioClient bool) string {
	return map[bool]string{false: "legacy-client", true: "sio-client"}[sioClient]
}

// TestSubscribeWithoutSinceStartsOverWhenItsCarriedOverSinceIsRefused:
// a client subscribes without since (from now); blue sends the first
// messages before its ack and dies before acking; green refuses the since
// the carried-over subscribe derives from those messages. The client asked
// for no history: it gets green's ack and then every message after it,
// once, in order, and none of blue's, which it never saw (they waited for
// the ack). It used to get the refusal, to a subscribe that asked for no
// history.
func TestSubscribeWithoutSinceStartsOverWhenItsCarriedOverSinceIsRefused(t *testing.T) {
	for _, sioClient := range []bool{false, true} {
		t.Run(clientName(sioClient), func(t *testing.T) {
			ctx := testenv.Context(t, 60*time.Second)
			e, c, a := carryOverRefused(t, ctx, edge.Options{}, sioClient, 4, nil, nil)
			if a.err != nil {
				t.Fatalf("subscribe without since, carried over to green, which refuses the since blue's early messages lead to: %v, want green's ack", a.err)
			}
			if !a.hasPos {
				t.Fatal("subscribe acked without a position")
			}
			p := sessiontest.Publish(e.b, time.Millisecond, "a")
			t.Cleanup(func() { _, _ = p.Stop() })
			testenv.Eventually(t, "publishing after the ack", 10*time.Second, func() bool { return p.Last("a") >= a.pos+20 })
			last, err := p.Stop()
			if err != nil {
				t.Fatal(err)
			}
			checkEachAfter(t, c, "a", a.pos, last["a"])
		})
	}
}

// TestCarriedOverSubscribeKeepsARefusalTheClientCanSee: the refusal of a
// carried-over subscribe's since stays the client's answer where starting
// over would hide something from it: when the client gave a since itself
// (the history it asked for is not there), and when blue's early messages
// already reached it (more than half a queue of them waited a second for
// the ack, and went on ahead of it): a new start would follow them with a
// jump.
func TestCarriedOverSubscribeKeepsARefusalTheClientCanSee(t *testing.T) {
	since := uint64(0)
	small := edge.Options{Edge: config.Edge{OutboundQueue: config.Queue{Messages: 16, Bytes: 64 << 10}}}
	const passed = 12 // over half of small's queue
	cases := []struct {
		name  string
		opts  edge.Options
		early int
		since *uint64
		ready func(*edgeClient) bool
	}{
		{"client-since", edge.Options{}, 4, &since, nil},
		{"early-messages-seen", small, passed, nil, func(c *edgeClient) bool { return len(c.rec.get("a")) == passed }},
	}
	for _, tc := range cases {
		for _, sioClient := range []bool{false, true} {
			t.Run(tc.name+"/"+clientName(sioClient), func(t *testing.T) {
				ctx := testenv.Context(t, 60*time.Second)
				e, c, a := carryOverRefused(t, ctx, tc.opts, sioClient, tc.early, tc.since, tc.ready)
				if !refusedWith(a.err, legacy.CodeBadSince) {
					t.Fatalf("subscribe answered %+v, want green's refusal (%s)", a, legacy.CodeBadSince)
				}
				for _, s := range e.g.Sessions() {
					if _, ok := s.Subscribed("a"); ok {
						t.Error("the session holds channel a after its subscribe was refused")
					}
				}
				if got := c.rec.get("a"); tc.ready == nil && len(got) > 0 {
					t.Errorf("messages %v reached the client of a refused subscribe", got)
				}
			})
		}
	}
}
