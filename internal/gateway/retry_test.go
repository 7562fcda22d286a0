package gateway_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// behindProxy wraps a backend's dialer (legacy or Socket.IO) to dial
// through a proxy, returned in *proxy, which the test can make refuse
// connections (Down) or leave them unanswered (Stall).
func behindProxy(t *testing.T, proxy **testenv.Proxy) func(upstream.Dialer) upstream.Dialer {
	return func(d upstream.Dialer) upstream.Dialer {
		through := func(o *upstream.Options) {
			u, err := url.Parse(o.URL)
			if err != nil {
				t.Fatal(err)
			}
			*proxy = testenv.StartProxy(t, u.Host)
			u.Host = (*proxy).Addr()
			o.URL = u.String()
		}
		switch d := d.(type) {
		case *upstream.LegacyDialer:
			ld := *d
			through(&ld.Options)
			return &ld
		case *upstream.SocketIODialer:
			sd := *d
			through(&sd.Options)
			return &sd
		}
		t.Fatalf("behindProxy: a %T", d)
		return nil
	}
}

// checkOn fails unless every client's session is live on c and still
// holds its channel.
func checkOn(t *testing.T, clients []client, c router.Color) {
	t.Helper()
	for _, cl := range clients {
		info := cl.s.Info()
		if info.Backend != c || !info.Attached || len(info.Subscriptions) != 1 || info.Subscriptions[0].Channel != cl.ch {
			t.Errorf("%s: on %v (live %v) with %+v, want live on %v with %q", cl.s.User(), info.Backend, info.Attached, info.Subscriptions, c, cl.ch)
		}
	}
}

// TestFailedMovesAreRetried: green refuses connections while the weight
// goes to 100 %, so every move fails and the sessions stay on blue. Once
// green takes connections again, the gateway moves them there by itself,
// with no further weight change (a rollout completed at 100 %, or one
// holding a step, makes none), every client seeing each seq once, in
// order. A session whose client left meanwhile is not tried.
func TestFailedMovesAreRetried(t *testing.T) {
	var green *testenv.Proxy
	e := setupWrapped(t, 0, nil, behindProxy(t, &green))
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 20, []string{"a", "b"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}

	green.Down()
	moved, failed, err := e.g.SetWeight(ctx, router.Full)
	if err != nil || moved != 0 || failed != len(clients) {
		t.Fatalf("green refusing: moved %d failed %d (%v), want all %d failed", moved, failed, err, len(clients))
	}
	checkOn(t, clients, router.Blue)
	gone := clients[0]
	e.g.Detach(gone.s)
	clients = clients[1:]
	green.Up()

	testenv.Eventually(t, "the sessions on green without a weight change", 20*time.Second, func() bool {
		return e.g.Status().Sessions.Green == len(clients)
	})
	stopAndCheck(t, p, clients)
	checkOn(t, clients, router.Green)
	if st := e.g.Status(); st.Moves.Done != uint64(len(clients)) || st.Moves.Failed != uint64(len(clients)+1) || st.Sessions.Blue != 0 {
		t.Errorf("status %+v: want %d moves done (the retries), %d failed (the weight change's)", st, len(clients), len(clients)+1)
	} else if st.Moves.Retried != st.Moves.Done {
		t.Errorf("moves %+v: want the %d retried moves counted as retried", st.Moves, st.Moves.Done)
	}
}

// TestReattachedToTheOtherBackendIsRetried: blue goes down under its
// sessions, which re-attach to green (availability first); once blue is
// back, the gateway moves them home without a weight change.
func TestReattachedToTheOtherBackendIsRetried(t *testing.T) {
	var blue *testenv.Proxy
	e := setupWrapped(t, 0, behindProxy(t, &blue), nil)
	clients := e.attach(t, 10, []string{"a", "b"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}

	blue.Down()
	testenv.Eventually(t, "the sessions re-attached to green", 20*time.Second, func() bool {
		return e.g.Status().Sessions.Green == len(clients)
	})
	blue.Up()
	testenv.Eventually(t, "the sessions back on blue without a weight change", 20*time.Second, func() bool {
		return e.g.Status().Sessions.Blue == len(clients)
	})
	stopAndCheck(t, p, clients)
	checkOn(t, clients, router.Blue)
	if st := e.g.Status(); st.Moves.Reattached != uint64(len(clients)) || st.Moves.Done != uint64(len(clients)) {
		t.Errorf("moves %+v: want %d re-attached, then %d moved back", st.Moves, len(clients), len(clients))
	}
}

// TestWeightChangeSupersedesPendingRetry: moves to green failed at 100 %,
// and a retry waits out its backoff when the weight goes back to 0. The
// retry must not then move the sessions to green, where 100 % had them:
// the weight change leaves nothing to retry.
func TestWeightChangeSupersedesPendingRetry(t *testing.T) {
	var green *testenv.Proxy
	e := setupOptions(t, 0, nil, behindProxy(t, &green), func(o *gateway.Options) {
		o.RetryBackoff = 5 * time.Second // well after the second change
	})
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 10, []string{"a", "b"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")

	green.Down()
	if moved, failed, err := e.g.SetWeight(ctx, router.Full); err != nil || moved != 0 || failed != len(clients) {
		t.Fatalf("green refusing: moved %d failed %d (%v), want all %d failed", moved, failed, err, len(clients))
	}
	if gateway.RetryIdle(e.g) {
		t.Fatal("no retry pending after failed moves")
	}
	green.Up()
	if moved, failed, err := e.g.SetWeight(ctx, 0); err != nil || moved != 0 || failed != 0 {
		t.Fatalf("weight 0: moved %d failed %d (%v), want nothing to move", moved, failed, err)
	}
	testenv.Eventually(t, "the retry to end", 10*time.Second, func() bool { return gateway.RetryIdle(e.g) })
	stopAndCheck(t, p, clients)
	checkOn(t, clients, router.Blue)
	if st := e.g.Status(); st.Moves.Done != 0 || e.green.Conns() != 0 {
		t.Errorf("moves %+v, %d connections to green: want no session moved there", st.Moves, e.green.Conns())
	}
}

// TestWeightChangeStopsRetryRound: a retry's moves hang on a green that
// takes connections and never answers. A weight change (here back to 0,
// as an emergency rollback would) must not wait for them, up to the dial
// timeout (10 s here): it calls them off, and the sessions stay on blue.
func TestWeightChangeStopsRetryRound(t *testing.T) {
	var green *testenv.Proxy
	e := setupOptions(t, 0, nil, behindProxy(t, &green), func(o *gateway.Options) {
		o.RetryBackoff = 50 * time.Millisecond
	})
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 10, []string{"a", "b"})
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")

	green.Down()
	if moved, failed, err := e.g.SetWeight(ctx, router.Full); err != nil || moved != 0 || failed != len(clients) {
		t.Fatalf("green refusing: moved %d failed %d (%v), want all %d failed", moved, failed, err, len(clients))
	}
	green.Stall()
	green.Up()
	testenv.Eventually(t, "a retry's dials to reach the stalled green", 10*time.Second, func() bool { return green.Stalled() > 0 })

	start := time.Now()
	moved, failed, err := e.g.SetWeight(ctx, 0)
	took := time.Since(start)
	if err != nil || moved != 0 || failed != 0 {
		t.Fatalf("weight 0: moved %d failed %d (%v), want nothing to move", moved, failed, err)
	}
	if took > 5*time.Second {
		t.Errorf("the weight change took %v, waiting for the retry's moves", took)
	}
	testenv.Eventually(t, "the retry to end", 10*time.Second, func() bool { return gateway.RetryIdle(e.g) })
	stopAndCheck(t, p, clients)
	checkOn(t, clients, router.Blue)
	if st := e.g.Status(); st.Moves.Done != 0 || st.Moves.Failed != uint64(len(clients)) || st.Moves.Canceled == 0 {
		t.Errorf("moves %+v: want the retry's moves called off, not failed", st.Moves)
	}
}

// TestPreparedConnectionsExpireDuringRetryRound: connections prepared
// ahead of a weight change are closed after PrepareTTL when no change
// comes, also when the TTL ends while a retry round holds the weight lock
// (its moves hang on a blue that never answers). The expiry used to be
// skipped whenever something held the lock, since a weight change or a
// preparation, the only holders then, closed them or armed the TTL again.
func TestPreparedConnectionsExpireDuringRetryRound(t *testing.T) {
	var blue *switchDialer
	e := setupOptions(t, 5000, func(d upstream.Dialer) upstream.Dialer {
		blue = newSwitchDialer(d)
		return blue
	}, nil, func(o *gateway.Options) {
		o.RetryBackoff = 50 * time.Millisecond
		o.PrepareTTL = 300 * time.Millisecond
		o.Handover.Timeout = 2 * time.Second // a retry round's moves to the hung blue
	})
	ctx := testenv.Context(t, 60*time.Second)
	e.attach(t, 40, []string{"a"})
	toBlue, _ := e.g.WouldMove(2500)
	_, toGreen := e.g.WouldMove(7500)
	if toBlue == 0 || toGreen == 0 {
		t.Fatalf("%d sessions to blue at 25%%, %d to green at 75%%: the test shows nothing", toBlue, toGreen)
	}

	realBlue := *blue.d.Load()
	blue.set(downDialer{realBlue.Protocol()})
	if _, failed, err := e.g.SetWeight(ctx, 2500); err != nil || failed != toBlue {
		t.Fatalf("blue refusing: %d failed (%v), want %d", failed, err, toBlue)
	}
	blue.set(&upstream.LegacyDialer{Options: upstream.Options{URL: "ws://" + hungBackend(t) + "/ws", DialTimeout: 2 * time.Second}})
	prepared, failed, err := e.g.PrepareWeight(ctx, 7500)
	if err != nil || failed != 0 || prepared != toGreen {
		t.Fatalf("prepare 75%%: %d prepared, %d failed (%v), want %d prepared", prepared, failed, err, toGreen)
	}
	if st := e.g.Status(); st.Sessions.Standby != toGreen {
		t.Fatalf("%d standbys after the preparation, want %d", st.Sessions.Standby, toGreen)
	}
	testenv.Eventually(t, "the prepared connections closed after prepare_ttl", 15*time.Second, func() bool {
		return e.g.Status().Sessions.Standby == 0
	})
}

// TestAttachedToTheOtherBackendIsRetried: clients that connect while blue
// refuses are attached to green; once blue is back, the gateway moves
// them to blue, where their buckets say, without a weight change.
func TestAttachedToTheOtherBackendIsRetried(t *testing.T) {
	var blue *switchDialer
	e := setupWrapped(t, 0, func(d upstream.Dialer) upstream.Dialer {
		blue = newSwitchDialer(d)
		return blue
	}, nil)
	realBlue := *blue.d.Load()
	blue.set(downDialer{realBlue.Protocol()})
	clients := e.attach(t, 10, []string{"a", "b"})
	checkOn(t, clients, router.Green)
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")
	for _, c := range clients {
		c.sink.WaitSeq(t, c.ch, 5, 10*time.Second)
	}
	blue.set(realBlue)
	testenv.Eventually(t, "the sessions on blue without a weight change", 20*time.Second, func() bool {
		return e.g.Status().Sessions.Blue == len(clients)
	})
	stopAndCheck(t, p, clients)
	checkOn(t, clients, router.Blue)
}
