// Package backendtest runs Baton's reference services on loopback for the
// gateway's tests: a legacy (blue) and a Socket.IO (green) service over one
// shared broker, so both assign the same seqs, as in production where blue
// and green share Redis. A Backend can be killed abruptly (listener and
// every connection closed, no close handshake) to test failures.
package backendtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/service"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/upstream"
)

// Backend is one reference service on 127.0.0.1.
type Backend struct {
	Protocol config.Protocol
	// URL is what a gateway dials: ws://.../ws or http://.../socket.io/.
	URL string

	ln  *service.CrashListener
	srv *http.Server
}

// Legacy starts the legacy service over b until the test ends.
func Legacy(t testing.TB, b broker.Broker) *Backend { return LegacyWithLimits(t, b, service.Limits{}) }

// LegacyWithLimits is Legacy with the service's limits (zero fields take
// the service's defaults; DrainPeriod zero means 10ms).
func LegacyWithLimits(t testing.TB, b broker.Broker, limits service.Limits) *Backend {
	t.Helper()
	hub := service.NewHub(b, service.HubOptions{})
	svc, err := service.NewLegacy(hub, service.LegacyOptions{Limits: testLimits(limits)})
	if err != nil {
		t.Fatal(err)
	}
	be := serve(t, svc.Handler(), func(ctx context.Context) error {
		err := svc.Shutdown(ctx)
		_ = hub.Close()
		return err
	})
	be.Protocol = config.ProtocolLegacy
	be.URL = "ws://" + be.ln.Addr().String() + service.LegacyPath
	return be
}

// SocketIO starts the Socket.IO service over b until the test ends.
func SocketIO(t testing.TB, b broker.Broker) *Backend { return SocketIOWithFaults(t, b, nil) }

// SocketIOWithFaults is SocketIO with faults injected (nil: none).
func SocketIOWithFaults(t testing.TB, b broker.Broker, faults *service.Faults) *Backend {
	return SocketIOWith(t, b, service.Limits{}, faults)
}

// SocketIOWith is SocketIO with the service's limits (as LegacyWithLimits)
// and faults injected (nil: none).
func SocketIOWith(t testing.TB, b broker.Broker, limits service.Limits, faults *service.Faults) *Backend {
	t.Helper()
	svc, err := service.NewSocketIO(service.SocketIOConfig{Limits: testLimits(limits), Faults: faults}, b)
	if err != nil {
		t.Fatal(err)
	}
	be := serve(t, svc.Handler(), svc.Shutdown)
	be.Protocol = config.ProtocolSocketIO
	be.URL = "http://" + be.ln.Addr().String() + service.SocketIOPath
	return be
}

// testLimits gives limits a short drain period unless they name one.
func testLimits(l service.Limits) service.Limits {
	if l.DrainPeriod == 0 {
		l.DrainPeriod = 10 * time.Millisecond
	}
	return l
}

func serve(t testing.TB, h http.Handler, shutdown func(context.Context) error) *Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := service.NewCrashListener(ln)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(tl)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			t.Errorf("backendtest: shutdown: %v", err)
		}
		_ = srv.Shutdown(ctx)
		<-done
	})
	return &Backend{ln: tl, srv: srv}
}

// Config returns the backend as a gateway config entry (defaults set).
func (b *Backend) Config() config.Backend {
	cb := config.Backend{URL: b.URL, Protocol: b.Protocol, DialTimeout: 10 * time.Second}
	if b.Protocol == config.ProtocolSocketIO {
		cb.Namespace = "/"
	}
	return cb
}

// Dialer returns a dialer for the backend with a 10s dial timeout (tests run on loaded machines).
func (b *Backend) Dialer() upstream.Dialer {
	d, err := upstream.NewDialer(b.Config(), 0)
	if err != nil {
		panic(err) // Config is always valid
	}
	return d
}

// Kill closes the listener and every connection at the TCP level, as a
// crashed process would: peers see a reset, not a close handshake, and new
// dials are refused.
func (b *Backend) Kill() { b.ln.CrashReset() }

// DropConns resets every open connection, at the TCP level, and goes on
// accepting new ones.
func (b *Backend) DropConns() { b.ln.ResetConns() }

// Conns reports the connections open now.
func (b *Backend) Conns() int { return b.ln.Open() }

// Host is the backend's host:port.
func (b *Backend) Host() string { return strings.TrimPrefix(b.ln.Addr().String(), "tcp://") }

// ServeSIO serves srv, a Socket.IO server a test builds to act as a
// backend, on loopback until the test ends, and returns its Socket.IO URL.
func ServeSIO(t testing.TB, srv *sio.Server) string {
	t.Helper()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return hs.URL + "/socket.io/"
}

// HistoryBeforeAck serves, as ServeSIO, a Socket.IO backend that answers
// a subscribe by emitting messages 1 to n on its channel (data(i) is
// message i's data, raw JSON) and only then acks it at seq n, as a
// handler that emits a room's history before calling its ack does. eng
// sizes its Engine.IO sessions' queues, which must hold the n messages.
// It returns the server and its URL.
func HistoryBeforeAck(t testing.TB, eng eio.Config, n int, data func(i int) string) (*sio.Server, string) {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").On("subscribe", func(so *sio.Socket, e *sio.Event) {
		var req struct {
			Channel string `json:"channel"`
		}
		if len(e.Args) == 0 || json.Unmarshal(e.Args[0], &req) != nil {
			return
		}
		for i := 1; i <= n; i++ {
			_ = so.Emit("message", fmt.Appendf(nil, `{"channel":%q,"seq":%d,"data":%s}`, req.Channel, i, data(i)))
		}
		_ = e.Ack(fmt.Appendf(nil, `{"ok":true,"seq":%d}`, n))
	})
	return srv, ServeSIO(t, srv)
}
