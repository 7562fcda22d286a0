package legacyclient_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/service"
)

// startService runs the reference legacy service on loopback and returns
// its WebSocket URL and a function stopping it.
func startService() (url string, stop func()) {
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		panic(err) // cannot fail with zero options
	}
	hub := service.NewHub(b, service.HubOptions{})
	l, err := service.NewLegacy(hub, service.LegacyOptions{Limits: service.Limits{DrainPeriod: time.Millisecond}})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(l.Handler())
	return "ws" + strings.TrimPrefix(srv.URL, "http") + service.LegacyPath, func() {
		_ = l.Shutdown(context.Background())
		srv.Close()
		_ = hub.Close()
		_ = b.Close()
	}
}

// TestConcurrentCallsAgainstService shares one client between goroutines
// that publish and ping at once; every publish gets a distinct seq and every
// message arrives once.
func TestConcurrentCallsAgainstService(t *testing.T) {
	url, stop := startService()
	t.Cleanup(stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := legacyclient.Dial(ctx, url, legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 50
	seqs := make(chan uint64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq, err := c.Publish(ctx, "c", fmt.Appendf(nil, `"%d-%d"`, w, i))
				if err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				seqs <- seq
				if i%10 == 0 {
					if err := c.Ping(ctx); err != nil {
						t.Errorf("ping: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(seqs)
	var acked []uint64
	for s := range seqs {
		acked = append(acked, s)
	}
	slices.Sort(acked)
	for i, s := range acked {
		if s != uint64(i+1) {
			t.Fatalf("acked seqs %v...: want 1..%d each once", acked[:i+1], workers*each)
		}
	}
	for want := uint64(1); want <= workers*each; want++ {
		select {
		case m := <-c.Messages():
			if m.Seq != want {
				t.Fatalf("message seq %d, want %d", m.Seq, want)
			}
		case <-ctx.Done():
			t.Fatalf("waiting for seq %d: %v", want, ctx.Err())
		}
	}
}
