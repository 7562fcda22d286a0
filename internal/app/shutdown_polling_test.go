package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/sioclient"
)

// A Socket.IO client on HTTP long-polling (the official client's first
// transport, and the only one behind proxies without WebSocket) is drained
// like any other. Its waiting poll GET is a request the edge's HTTP server
// waits for, and only the edge's drain answers it before the next ping
// (25 s by default): run one after the other, the shutdown waited until
// its deadline, then cut every client without its 1001.
func TestShutdownIsNotHeldByAPollingClientsWaitingGET(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{DrainPeriod: 50 * time.Millisecond, ShutdownTimeout: 3 * time.Second})
	legacy := clients(t, a.App, 1)[0]

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, "http://"+a.EdgeAddr()+"/socket.io/?user=poller", sioclient.Options{Transport: sioclient.PollingOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Connect(ctx, "/", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // its next GET is waiting at the edge

	began := time.Now()
	a.stop()
	if took := time.Since(began); took > time.Second {
		t.Errorf("shutdown took %v with one idle polling client (drain period 50ms): the pending GET held edgeSrv.Shutdown until the shutdown deadline", took)
	}
	select {
	case <-legacy.Done():
		var ce websocket.CloseError
		if !errors.As(legacy.Err(), &ce) || ce.Code != websocket.StatusGoingAway {
			t.Errorf("legacy client ended with %v, want a close 1001", legacy.Err())
		}
	case <-time.After(5 * time.Second):
		t.Error("legacy client still connected after the shutdown")
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Error("polling client still connected after the shutdown")
	}
}

// A connection that has sent no request yet (a client between dialing and
// writing; the official client opens one for its next POST while its GET
// waits) has nothing to drain, but net/http's Shutdown waits up to 5 s
// for such a connection before it counts it as idle: the shutdown must
// not wait for it.
func TestShutdownIsNotHeldByAConnectionThatSentNothing(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{DrainPeriod: 50 * time.Millisecond, ShutdownTimeout: 3 * time.Second})
	conn, err := net.Dial("tcp", a.EdgeAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A request on another connection: the server has accepted conn by
	// the time it answers one that came after it.
	resp, err := http.Get("http://" + a.EdgeAddr() + "/socket.io/?EIO=4&transport=polling&user=probe")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()

	began := time.Now()
	a.stop()
	if took := time.Since(began); took > time.Second {
		t.Errorf("shutdown took %v with a connection that sent nothing (drain period 50ms): it held edgeSrv.Shutdown until the shutdown deadline", took)
	}
}
