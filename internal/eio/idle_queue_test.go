package eio

import (
	"strings"
	"testing"
	"time"
)

// TestPollingIdleQueueKeepsNoLargeArray: a long-polling session that got
// a burst (a fan-out, a replay) and had it collected by a poll keeps no
// queue array sized for the burst for the rest of its life, as a
// WebSocket session's writer does not (idleQueueKeep): idle, it is back
// to what it held before.
func TestPollingIdleQueueKeepsNoLargeArray(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid := ts.openPolling(t)
	c := ts.srv.lookup(sid)
	const burst = 1000
	for range burst {
		if err := c.SendText([]byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	status, body, _ := do(t, "GET", ts.pollURL(sid), "")
	if status != 200 || strings.Count(body, "\x1e") != burst-1 {
		t.Fatalf("poll: %d, %d packets", status, strings.Count(body, "\x1e")+1)
	}
	c.mu.Lock()
	n, held := len(c.queue), cap(c.queue)
	c.mu.Unlock()
	if n != 0 || held > idleQueueKeep {
		t.Fatalf("after the poll took the burst: queue %d, its array holds %d groups (at most %d kept idle)", n, held, idleQueueKeep)
	}
}
