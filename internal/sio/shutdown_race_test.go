package sio

import (
	"context"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/eio"
)

// Shutdown racing a handshake must not crash the process: eio may call
// OnClose for a session whose OnOpen has not run yet.
func TestShutdownDuringHandshakeDoesNotPanic(t *testing.T) {
	for range 200 {
		srv, err := NewServer(Config{Engine: quickDrainConfig()})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
			srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
		}()
		for srv.Engine().Stats().Open == 0 {
			runtime.Gosched()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		wg.Wait()
	}
}

func quickDrainConfig() (c eio.Config) {
	c.PingInterval, c.DrainPeriod = time.Minute, time.Millisecond
	return c
}
