package sioclient

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkIdleClientMemory measures what one idle client connected to "/"
// costs this process: live heap plus goroutine stacks, over 1000 clients
// connected to the official server (which runs in its own process, so its
// memory is not counted). Run with -benchtime=1x: each iteration dials
// 1000 clients.
func BenchmarkIdleClientMemory(b *testing.B) {
	url := startNode(b)
	const n = 1000
	for _, bc := range []struct {
		name string
		opts func(Options) Options
	}{
		{"handler", func(o Options) Options { o.OnEvent = func(*Socket, Event) {}; return o }},
		{"channel", func(o Options) Options { return o }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := bc.opts(testOptions(b, WebSocket))
			var perConn, goroutines float64
			for b.Loop() {
				clients := make([]*Client, 0, n)
				before := liveBytes()
				g0 := runtime.NumGoroutine()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				for range n {
					c, err := Dial(ctx, url, opts)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := c.Connect(ctx, "/", nil); err != nil {
						b.Fatal(err)
					}
					clients = append(clients, c)
				}
				cancel()
				perConn = float64(liveBytes()-before) / n
				goroutines = float64(runtime.NumGoroutine()-g0) / n
				for _, c := range clients {
					_ = c.Close()
				}
				runtime.KeepAlive(clients)
			}
			b.ReportMetric(perConn, "bytes/conn")
			b.ReportMetric(goroutines, "goroutines/conn")
		})
	}
}

// liveBytes is the live heap plus goroutine stacks after a full GC.
func liveBytes() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}
