package gateway_test

import (
	"encoding/json"
	"errors"
	"fmt"
	neturl "net/url"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestRequestsInFlightWhenTheBackendDies: blue dies while clients' requests
// are in flight on it (blue behind a proxy that swallows them, then goes
// down). Every session re-attaches to green. A subscribe or an
// unsubscribe, idempotent, is carried over: the subscribe is answered by
// green's ack, followed by every message after the ack's seq, once, in
// order; the unsubscribe is acknowledged and green does not get the
// channel back. A publish is not resent (a resend could publish twice): it
// gets an error reply, and nothing is published. The subscribes used to
// get an error reply too, and the client was left without the channel.
func TestRequestsInFlightWhenTheBackendDies(t *testing.T) {
	const requestTimeout = 20 * time.Second // the re-attach runs under -race
	var proxy *testenv.Proxy
	e := setupOptions(t, 0, behindFreezeProxy(t, &proxy, nil), nil, func(o *gateway.Options) {
		o.Handover.Timeout = 5 * time.Second
		o.RequestTimeout = requestTimeout
	})
	f := startFront(t, e, edge.Options{RequestTimeout: requestTimeout})
	ctx := testenv.Context(t, 60*time.Second)
	subs := []*edgeClient{f.dialLegacy(t, ctx, "s1"), f.dialSIO(t, ctx, "s2")}
	unsubs := []*edgeClient{f.dialLegacy(t, ctx, "u1"), f.dialSIO(t, ctx, "u2")}
	pubs := []*edgeClient{f.dialLegacy(t, ctx, "p1"), f.dialSIO(t, ctx, "p2")}
	for _, c := range unsubs {
		if err := c.subscribe(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	}
	const clients = 6
	testenv.Eventually(t, "every session on blue", 10*time.Second, func() bool { return e.g.Status().Sessions.Blue == clients })
	p := sessiontest.Publish(e.b, time.Millisecond, "a", "b")
	t.Cleanup(func() { _, _ = p.Stop() })

	proxy.Partition()
	subAnswers := make([]chan subscribeAnswer, len(subs))
	for i, c := range subs {
		subAnswers[i] = make(chan subscribeAnswer, 1)
		go func() {
			var a subscribeAnswer
			a.pos, a.hasPos, a.err = c.subscribeAt(ctx, "a", nil)
			subAnswers[i] <- a
		}()
	}
	unsubAnswers := make([]chan error, len(unsubs))
	for i, c := range unsubs {
		unsubAnswers[i] = make(chan error, 1)
		go func() {
			if c.legacy != nil {
				unsubAnswers[i] <- c.legacy.Unsubscribe(ctx, "b")
				return
			}
			unsubAnswers[i] <- c.sock.Unsubscribe(ctx, "b")
		}()
	}
	pubAnswers := make([]chan error, len(pubs))
	for i, c := range pubs {
		pubAnswers[i] = make(chan error, 1)
		go func() {
			_, err := c.publish(ctx, "p", []byte(`1`))
			pubAnswers[i] <- err
		}()
	}
	testenv.Eventually(t, "every request sent to the silenced blue", 10*time.Second, func() bool { return proxy.Swallowed() == clients })
	proxy.Down() // blue dies: its connections end, and it refuses new ones

	at := make([]uint64, len(subs))
	for i, c := range subs {
		a := <-subAnswers[i]
		switch {
		case a.err != nil:
			t.Errorf("%s: subscribe in flight when blue died: %v, want green's ack", c.user, a.err)
		case !a.hasPos:
			t.Errorf("%s: subscribe acked without a position", c.user)
		}
		at[i] = a.pos
	}
	for i, c := range unsubs {
		if err := <-unsubAnswers[i]; err != nil {
			t.Errorf("%s: unsubscribe in flight when blue died: %v, want its ack", c.user, err)
		}
	}
	for i, c := range pubs {
		err := <-pubAnswers[i]
		var se *legacyclient.ServerError
		var ae *sioclient.AckError
		if !errors.As(err, &se) && !errors.As(err, &ae) {
			t.Errorf("%s: publish in flight when blue died: %v, want an error reply", c.user, err)
		}
	}

	// Messages published after every ack, which green must bring.
	top := max(at[0], at[1]) + 20
	testenv.Eventually(t, "publishing past the acks", 10*time.Second, func() bool { return p.Last("a") >= top })
	testenv.Eventually(t, "every session on green", 20*time.Second, func() bool { return e.g.Status().Sessions.Green == clients })
	for _, s := range e.g.Sessions() {
		_, onA := s.Subscribed("a")
		_, onB := s.Subscribed("b")
		switch s.User() {
		case "s1", "s2":
			if !onA {
				t.Errorf("%s: session does not hold channel a", s.User())
			}
		case "u1", "u2":
			if onB {
				t.Errorf("%s: session holds channel b again after its unsubscribe", s.User())
			}
		}
	}
	msgs, _, err := e.b.History(ctx, "p", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 {
		t.Errorf("channel p: %d messages published, want none (a publish in flight on a connection that dropped is not resent)", len(msgs))
	}
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	for i, c := range subs {
		checkEachAfter(t, c, "a", at[i], last["a"])
	}
}

// replaysAndHolds serves, behind a proxy, a Socket.IO backend that answers
// a subscribe by emitting messages 1 to n of its channel and then holds
// the ack, as a backend that replays history before its ack and dies
// before sending it. held is closed at the first such subscribe.
func replaysAndHolds(t *testing.T, n int) (url string, proxy *testenv.Proxy, held <-chan struct{}) {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	var once sync.Once
	srv.Of("/").On("subscribe", func(so *sio.Socket, e *sio.Event) {
		var req struct {
			Channel string `json:"channel"`
		}
		if len(e.Args) == 0 || json.Unmarshal(e.Args[0], &req) != nil {
			return
		}
		for i := 1; i <= n; i++ {
			_ = so.Emit("message", fmt.Appendf(nil, `{"channel":%q,"seq":%d,"data":{"n":%d}}`, req.Channel, i, i))
		}
		once.Do(func() { close(ch) })
	})
	u, err := neturl.Parse(backendtest.ServeSIO(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	proxy = testenv.StartProxy(t, u.Host)
	u.Host = proxy.Addr()
	return u.String(), proxy, ch
}

// TestSubscribeCarriedOverResumesWhereTheClientStands: blue delivers the
// first messages of a client's subscribe (since 0) before its ack, and dies
// before acking. The subscribe, carried over to green, asks from the last
// seq the client was given, not from the client's since: the client gets
// each seq once, in order, those blue gave first (which wait at the edge
// for the ack) and then green's.
func TestSubscribeCarriedOverResumesWhereTheClientStands(t *testing.T) {
	const early = 4 // messages blue gives before it dies
	url, proxy, held := replaysAndHolds(t, early)
	e := setupWrapped(t, 0, func(upstream.Dialer) upstream.Dialer {
		return &upstream.SocketIODialer{Options: upstream.Options{URL: url, DialTimeout: 10 * time.Second}}
	}, nil)
	f := startFront(t, e, edge.Options{RequestTimeout: 20 * time.Second})
	ctx := testenv.Context(t, 60*time.Second)
	for i := range 10 {
		if _, err := e.b.Publish(ctx, "a", fmt.Appendf(nil, `{"n":%d}`, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	c := f.dialLegacy(t, ctx, "u1")
	testenv.Eventually(t, "the session on blue", 10*time.Second, func() bool { return e.g.Status().Sessions.Blue == 1 })
	s := e.g.Sessions()[0]

	answer := make(chan error, 1)
	go func() {
		since := uint64(0)
		_, err := c.legacy.Subscribe(ctx, "a", &since)
		answer <- err
	}()
	<-held
	testenv.Eventually(t, "blue's early messages delivered", 10*time.Second, func() bool {
		last, ok := s.Subscribed("a")
		return ok && last == early
	})
	proxy.Down()
	if err := <-answer; err != nil {
		t.Fatalf("subscribe in flight when blue died: %v, want green's ack", err)
	}
	p := sessiontest.Publish(e.b, time.Millisecond, "a")
	t.Cleanup(func() { _, _ = p.Stop() })
	testenv.Eventually(t, "publishing after the ack", 10*time.Second, func() bool { return p.Last("a") >= 20 })
	last, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	checkEachAfter(t, c, "a", 0, last["a"])
}
