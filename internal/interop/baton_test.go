package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/service"
)

// batonServer is Baton's reference Socket.IO service in protocol-suite mode
// (suite handlers and the pub/sub API on one server), in-process on a
// loopback port.
type batonServer struct {
	svc *service.SocketIO
	url string
}

var errNoSocket = errors.New("no such socket on /")

func (s *batonServer) URL() string { return s.url }

func (s *batonServer) Disconnect(_ context.Context, id string) error {
	so := s.svc.Server().Of("/").Socket(id)
	if so == nil {
		return fmt.Errorf("%w: %s", errNoSocket, id)
	}
	so.Disconnect()
	return nil
}

// startBaton starts the service on 127.0.0.1:0 until the test ends.
func startBaton(t *testing.T) *batonServer {
	t.Helper()
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.NewSocketIO(service.SocketIOConfig{
		ProtocolSuite:  true,
		PingInterval:   pingInterval,
		PingTimeout:    pingTimeout,
		ConnectTimeout: connectTimeout,
		// Shutdown at the end of the test need not spread its closes.
		Limits: service.Limits{DrainPeriod: 50 * time.Millisecond},
	}, b)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			// The official client sees a slow-consumer close as a bare
			// "transport close": the counters tell it apart.
			t.Logf("service stats: %+v", svc.Stats())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("service shutdown: %v", err)
		}
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("http shutdown: %v", err)
		}
		<-done
		if err := b.Close(); err != nil {
			t.Errorf("broker close: %v", err)
		}
	})
	return &batonServer{svc: svc, url: "http://" + ln.Addr().String()}
}

// TestBatonServer is the interop test proper: the official client against
// Baton's Socket.IO service, every scenario over every transport.
func TestBatonServer(t *testing.T) {
	runAll(t, startBaton(t))
}
