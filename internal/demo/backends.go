package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/service"
)

// backends are the two reference services on one memory broker: blue
// speaks the legacy protocol, green Socket.IO. Each listens on loopback
// through a service.CrashListener so that green can die abruptly.
type backends struct {
	broker *membroker.Broker
	hub    *service.Hub // blue's; green owns its own
	blue   *service.Legacy
	green  *service.SocketIO

	// maxMessage is both services' message limit: the largest frame
	// they take (service.Limits.MaxMessageBytes).
	maxMessage int

	blueLn, greenLn   *service.CrashListener
	blueSrv, greenSrv *http.Server
	wg                sync.WaitGroup
}

// backendDrain is how long a service spreads its closes over at the end;
// the demo's clients are gone by then, so it is short.
const backendDrain = 200 * time.Millisecond

// startBackends starts blue and green on 127.0.0.1, green with faults.
func startBackends(faults *service.Faults, log *slog.Logger) (_ *backends, err error) {
	b := &backends{} // not the named result: a failure returns nil, the cleanup needs b
	defer func() {
		if err != nil {
			b.close(context.Background())
		}
	}()
	if b.broker, err = membroker.New(membroker.Options{}); err != nil {
		return nil, fmt.Errorf("demo: broker: %w", err)
	}
	limits := service.Limits{DrainPeriod: backendDrain}
	b.maxMessage = int(limits.WithDefaults().MaxMessageBytes)
	b.hub = service.NewHub(b.broker, service.HubOptions{})
	if b.blue, err = service.NewLegacy(b.hub, service.LegacyOptions{Limits: limits, Logger: log}); err != nil {
		return nil, fmt.Errorf("demo: blue: %w", err)
	}
	if b.green, err = service.NewSocketIO(service.SocketIOConfig{Limits: limits, Logger: log, Faults: faults}, b.broker); err != nil {
		return nil, fmt.Errorf("demo: green: %w", err)
	}
	if b.blueLn, b.blueSrv, err = b.serve(b.blue.Handler(), log); err != nil {
		return nil, fmt.Errorf("demo: blue: %w", err)
	}
	if b.greenLn, b.greenSrv, err = b.serve(b.green.Handler(), log); err != nil {
		return nil, fmt.Errorf("demo: green: %w", err)
	}
	return b, nil
}

func (b *backends) serve(h http.Handler, log *slog.Logger) (*service.CrashListener, *http.Server, error) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	ln := service.NewCrashListener(raw)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	b.wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) && !ln.Crashed() {
			log.Warn("demo: backend stopped", "addr", raw.Addr(), "err", err)
		}
	})
	return ln, srv, nil
}

// BlueURL is blue's legacy WebSocket endpoint.
func (b *backends) BlueURL() string { return "ws://" + b.blueLn.Addr().String() + service.LegacyPath }

// GreenURL is green's Socket.IO endpoint.
func (b *backends) GreenURL() string {
	return "http://" + b.greenLn.Addr().String() + service.SocketIOPath
}

// CrashGreen kills green as a crashed process would die: its listener and
// every connection close at once, without a close frame.
func (b *backends) CrashGreen() { b.greenLn.Crash() }

// close stops both services and the broker; parts never started are
// skipped.
func (b *backends) close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, backendDrain+5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range []struct {
		srv   *http.Server
		drain func(context.Context) error
	}{{b.blueSrv, b.legacyDrain()}, {b.greenSrv, b.greenDrain()}} {
		if s.srv != nil {
			wg.Go(func() { _ = s.srv.Shutdown(ctx) })
		}
		if s.drain != nil {
			wg.Go(func() { _ = s.drain(ctx) })
		}
	}
	wg.Wait()
	for _, ln := range []*service.CrashListener{b.blueLn, b.greenLn} {
		if ln != nil {
			ln.Crash() // whatever the drain left
		}
	}
	b.wg.Wait()
	if b.hub != nil {
		_ = b.hub.Close()
	}
	if b.broker != nil {
		_ = b.broker.Close()
	}
}

func (b *backends) legacyDrain() func(context.Context) error {
	if b.blue == nil {
		return nil
	}
	return b.blue.Shutdown
}

func (b *backends) greenDrain() func(context.Context) error {
	if b.green == nil {
		return nil
	}
	return b.green.Shutdown
}
