package app

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/service"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestRolloutRollsBackOnServiceFaults: the green service itself refuses a
// fifth of the publishes (service.Faults, nothing injected in the
// gateway); the gates see it through the probes and roll back.
func TestRolloutRollsBackOnServiceFaults(t *testing.T) {
	b := testBroker(t)
	blue := backendtest.Legacy(t, b)
	svc, err := service.NewSocketIO(service.SocketIOConfig{
		Limits: service.Limits{DrainPeriod: 10 * time.Millisecond},
		Faults: &service.Faults{ErrorRate: 0.2},
	}, b)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})

	cfg := testConfig(blue, blue, "")
	cfg.Backends.Green = config.Backend{URL: "http://" + ln.Addr().String() + service.SocketIOPath, Protocol: config.ProtocolSocketIO, DialTimeout: 10 * time.Second}
	a := start(t, cfg, Options{})
	cs := clients(t, a.App, 10)
	rollBack(t, a.Controller())
	if gs := a.Gateway().Status(); gs.Sessions.Blue != len(cs) || gs.Sessions.Green != 0 {
		t.Errorf("after the rollback: %+v", gs.Sessions)
	}
	checkDelivery(t, cs)
}
