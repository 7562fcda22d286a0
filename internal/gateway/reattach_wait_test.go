package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// TestPublishWhileReattachingKeepsTheRequestTimeout: a client's publish
// made while its session re-attaches after a drop waits for the new
// connection within the request timeout, and is then answered with an
// error reply (docs/architecture.md, "Delivery guarantees"), however long
// the re-attach takes. Here blue hangs on the re-attach's dial for
// handover.timeout (10 s) before green takes the sessions; the request
// timeout is 1 s. A publish is sent without a context of its own, on
// either edge, and used to wait for the re-attach without deadline, which
// with the flap backoff and the attempts can be far past the request
// timeout.
func TestPublishWhileReattachingKeepsTheRequestTimeout(t *testing.T) {
	const requestTimeout = time.Second
	var blue *switchDialer
	e := setupOptions(t, 0, func(d upstream.Dialer) upstream.Dialer {
		blue = newSwitchDialer(d)
		return blue
	}, nil, func(o *gateway.Options) {
		o.Handover.Timeout = 10 * time.Second
		o.RequestTimeout = requestTimeout
	})
	f := startFront(t, e, edge.Options{RequestTimeout: requestTimeout})
	ctx := testenv.Context(t, 60*time.Second)
	clients := []*edgeClient{f.dialLegacy(t, ctx, "u1"), f.dialSIO(t, ctx, "u2")}
	for _, c := range clients {
		if _, err := c.publish(ctx, "a", []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	}

	blue.set(&upstream.LegacyDialer{Options: upstream.Options{URL: "ws://" + hungBackend(t) + "/ws", DialTimeout: time.Minute}})
	e.blue.DropConns()
	testenv.Eventually(t, "the sessions detached", 10*time.Second, func() bool { return e.g.Status().Sessions.Detached == len(clients) })

	type answer struct {
		err  error
		took time.Duration
	}
	answers := make([]chan answer, len(clients))
	for i, c := range clients {
		answers[i] = make(chan answer, 1)
		go func() {
			pctx, cancel := context.WithTimeout(ctx, 8*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.publish(pctx, "a", []byte(`2`))
			answers[i] <- answer{err, time.Since(start)}
		}()
	}
	for i, c := range clients {
		a := <-answers[i]
		var se *legacyclient.ServerError
		var ae *sioclient.AckError
		if !errors.As(a.err, &se) && !errors.As(a.err, &ae) {
			t.Errorf("%s: publish while re-attaching: %v after %v, want an error reply within the request timeout (%v)", c.user, a.err, a.took, requestTimeout)
			continue
		}
		if a.took > requestTimeout+3*time.Second {
			t.Errorf("%s: error reply %v after %v, want it within the request timeout (%v)", c.user, a.err, a.took, requestTimeout)
		}
		t.Logf("%s: answered %v after %v", c.user, a.err, a.took)
	}
}
