package sioclient

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/wsconn"
)

// burstServer is an Engine.IO server that opens a session, accepts the
// CONNECT of "/", and on start writes n "message" events on channel
// "news" (seq 1..n, data {"text":"hello"}) in one write(2), so that the
// client reads them back to back out of one buffer. It returns the URL.
func burstServer(t *testing.T, n int, start <-chan struct{}) string {
	t.Helper()
	var stream []byte
	for i := range n {
		payload := fmt.Appendf(nil, `42["message",{"channel":"news","seq":%d,"data":{"text":"hello"}}]`, i+1)
		stream = append(wsconn.AppendFrameHeader(stream, 0x1, len(payload)), payload...)
	}
	return fakeLinkServer(t, func(ctx context.Context, c *websocket.Conn, l *wsconn.Link) {
		write(ctx, c, fakeOpen)
		if _, _, err := c.Read(ctx); err != nil { // the client's CONNECT
			return
		}
		write(ctx, c, `40{"sid":"s"}`)
		select {
		case <-start:
		case <-ctx.Done():
			return
		}
		if _, err := l.Writer().Write(stream); err != nil {
			t.Error(err)
		}
		_, _, _ = c.Read(ctx) // until the client goes
	})
}

// TestOnEventAllocatesNothingPerEvent: over a websocket, an event handed
// to OnEvent is read in place, split into a reused array, and its name
// and channel come from the client's table: a stream of messages costs
// no allocation per message.
func TestOnEventAllocatesNothingPerEvent(t *testing.T) {
	const n = 2000
	start := make(chan struct{})
	url := burstServer(t, n, start)
	var got, wrong atomic.Int64
	all := make(chan struct{})
	opts := Options{Transport: WebSocket, OnEvent: func(_ *Socket, ev Event) {
		i := got.Add(1)
		if m := ev.Message; m == nil || m.Channel != "news" || m.Seq != uint64(i) || string(m.Data) != `{"text":"hello"}` {
			wrong.Add(1)
		}
		if i == n {
			close(all)
		}
	}}
	dial(t, url, opts)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	close(start)
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d of %d events in 10 s", got.Load(), n)
	}
	runtime.ReadMemStats(&after)
	if w := wrong.Load(); w > 0 {
		t.Fatalf("%d of %d events read wrong", w, n)
	}
	// A few allocations of the runtime's own may fall in the window.
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.1 {
		t.Errorf("%.2f allocations per event, want none", per)
	}
}

// TestEventsChannelKeepsItsBytes: events queued on Socket.Events have
// bytes of their own, whole after the reader has read on past them.
func TestEventsChannelKeepsItsBytes(t *testing.T) {
	const n = 200
	start := make(chan struct{})
	url := burstServer(t, n, start)
	_, s := dial(t, url, Options{Transport: WebSocket, EventBuffer: n})
	close(start)
	deadline := time.After(10 * time.Second)
	for len(s.Events()) < n {
		select {
		case <-deadline:
			t.Fatalf("%d of %d events queued in 10 s", len(s.Events()), n)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for i := range n {
		ev := <-s.Events()
		if m := ev.Message; m == nil || m.Channel != "news" || m.Seq != uint64(i+1) || string(m.Data) != `{"text":"hello"}` || argsString(ev.Args) == "" {
			t.Fatalf("event %d: %+v (message %+v)", i, ev, m)
		}
	}
}

// TestOnDrainedAfterEachRead: OnDrained follows the events of a read, not
// every event, and none is left without one after it.
func TestOnDrainedAfterEachRead(t *testing.T) {
	const n = 2000
	start := make(chan struct{})
	url := burstServer(t, n, start)
	var events, drains, since atomic.Int64 // since: events after the last drain
	settled := make(chan struct{})
	opts := Options{
		Transport: WebSocket,
		OnEvent: func(*Socket, Event) {
			events.Add(1)
			since.Add(1)
		},
		OnDrained: func() {
			drains.Add(1)
			if since.Swap(0) > 0 && events.Load() == n {
				close(settled)
			}
		},
	}
	dial(t, url, opts)
	close(start)
	select {
	case <-settled:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d of %d events, %d drains, %d events after the last", events.Load(), n, drains.Load(), since.Load())
	}
	t.Logf("%d drains for %d events", drains.Load(), n)
	if d := drains.Load(); d >= n {
		t.Errorf("%d drains for %d events read in bursts: one per event", d, n)
	}
}
