package eio

import (
	"context"
	"testing"
	"time"
)

// slowHandler is an echo whose OnMessage takes d, as the edge's handler
// does while it waits on a slow backend.
type slowHandler struct {
	echo
	d time.Duration
}

func (h *slowHandler) OnMessage(c *Conn, data []byte, binary bool) {
	time.Sleep(h.d) // the handler's work, not a wait for the test
	h.echo.OnMessage(c, data, binary)
}

// A client that keeps its reader busy with one slow request after another
// (each outlasting the ping timeout) still hears a ping every
// PingInterval, as the official client, which closes a connection that
// sent none for pingInterval + pingTimeout, wants: a pong deadline that
// passes again during a later request must not push back the re-ping
// already scheduled. With a ping interval over twice the ping timeout
// (Socket.IO v2's 25 s / 5 s, say) each request pushed it back by a
// whole interval, and the client heard no ping for as long as the
// requests went on.
func TestRepingNotPushedBackByLaterRequests(t *testing.T) {
	const (
		interval = 1500 * time.Millisecond
		timeout  = 300 * time.Millisecond
		work     = 400 * time.Millisecond
		requests = 12
	)
	h := &slowHandler{echo: echo{closed: make(chan error, 1)}, d: work}
	ts := serveHandler(t, Config{PingInterval: interval, PingTimeout: timeout, DrainPeriod: 50 * time.Millisecond}, h, &h.echo)
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	read(t, ws) // open
	for range requests {
		send(t, ws, "4req")
	}
	// Read as the official client does: a ping is answered at once, and
	// none within interval+timeout of the last one ends the connection.
	var last time.Time
	pings := 0
	for pings < 3 {
		wait := 5 * time.Second
		if !last.IsZero() {
			wait = time.Until(last.Add(interval + timeout))
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_, b, err := ws.Read(ctx)
		cancel()
		if err != nil {
			t.Fatalf("after ping %d: no ping within pingInterval+pingTimeout (%v) while requests were handled: %v", pings, interval+timeout, err)
		}
		if string(b) != "2" {
			continue // an echo
		}
		pings++
		last = time.Now()
		send(t, ws, "3")
	}
}
