package eio

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// running counts the goroutines whose stack passes through fn.
func running(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), fn+"(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Shutdown closes a polling session gracefully, which leaves an upgrade
// in progress to finish (see Conn.probe); but what is left of it once
// Shutdown returns must be nothing. The probing WebSocket of a client
// that never sends its upgrade packet stayed open, and its goroutine
// running, up to the upgrade timeout after Shutdown had returned: neither
// Shutdown's wait nor its cut once ctx ended reached it.
func TestShutdownEndsAProbingUpgrade(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute, UpgradeTimeout: time.Minute})
	sid := ts.openPolling(t)
	ws := probed(t, ts, sid)
	// The client never sends its upgrade packet.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := ts.srv.Shutdown(ctx) // nil, or ctx's error once it cut the probe
	if n := running("eio.(*Conn).probe"); n != 0 {
		t.Fatalf("Shutdown returned (%v) with %d probing upgrade(s) still running", err, n)
	}
	if err := ts.closeReason(t); !errors.Is(err, ErrShutdown) {
		t.Errorf("close reason %v, want %v", err, ErrShutdown)
	}
	waitClosed(t, ws)
}
