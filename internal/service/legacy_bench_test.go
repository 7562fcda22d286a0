package service

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker/membroker"
)

// BenchmarkLegacyFanout measures one publish reaching every subscriber of a
// channel over loopback WebSockets (the clients run in this process too, reading
// without allocating, so allocs/op are the server's).
func BenchmarkLegacyFanout(b *testing.B) {
	const subscribers = 50
	b.StopTimer()
	mb, err := membroker.New(membroker.Options{SubscriberBuffer: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	hub := NewHub(mb, HubOptions{})
	defer hub.Close()
	l, err := NewLegacy(hub, LegacyOptions{Limits: Limits{OutboundMessages: 1 << 16, OutboundBytes: 64 << 20, DrainPeriod: time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + LegacyPath
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	for range subscribers {
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ws.CloseNow()
		_, _, _ = ws.Read(ctx) // welcome
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":1,"channel":"bench"}`)); err != nil {
			b.Fatal(err)
		}
		_, _, _ = ws.Read(ctx) // ack
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			// A context without Done keeps the client's reads from
			// allocating, so the allocations reported are the server's.
			rctx := context.WithoutCancel(ctx)
			for range b.N {
				_, r, err := ws.Reader(rctx)
				if err != nil {
					b.Error(err)
					return
				}
				for {
					if _, err := r.Read(buf); err == io.EOF {
						break
					} else if err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	data := []byte(`{"sym":"ABC","px":101.5,"ts":1700000000123}`)
	b.ReportAllocs()
	b.StartTimer()
	for range b.N {
		if _, err := mb.Publish(ctx, "bench", data); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*subscribers)/b.Elapsed().Seconds(), "deliveries/s")
	_ = l.Shutdown(ctx)
}
