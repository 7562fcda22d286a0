package eio

import (
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/engineio"
)

// TestOfferOnFullQueue: past either bound Offer refuses with ErrQueueFull
// and leaves the session open with its queue as it was (a poll gets
// exactly what was queued); once the queue has room Offer queues again;
// Send on the same full queue still closes the session as a slow consumer.
func TestOfferOnFullQueue(t *testing.T) {
	for _, tc := range queueBounds {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg)
			sid := ts.openPolling(t)
			c := ts.srv.lookup(sid)
			for _, s := range []string{"abcd", "efgh"} {
				if err := c.Offer(message(s)); err != nil {
					t.Fatalf("offer %q: %v", s, err)
				}
			}
			if err := c.Offer(message("ijkl")); !errors.Is(err, ErrQueueFull) {
				t.Fatalf("offer on a full queue: %v, want ErrQueueFull", err)
			}
			if err := c.Err(); err != nil {
				t.Fatalf("session closed by Offer: %v", err)
			}
			if n := ts.srv.Stats().SlowConsumers; n != 0 {
				t.Fatalf("SlowConsumers = %d after Offer, want 0", n)
			}
			if status, body, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || body != "4abcd\x1e4efgh" {
				t.Fatalf("poll after the refused offer: %d %q", status, body)
			}

			// The poll emptied the queue: Offer queues again, and a Send
			// past the bounds closes the session.
			for _, s := range []string{"mnop", "qrst"} {
				if err := c.Offer(message(s)); err != nil {
					t.Fatalf("offer %q after the poll: %v", s, err)
				}
			}
			if err := c.Send(message("uvwx")); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("send on a full queue: %v, want ErrSlowConsumer", err)
			}
			if err := ts.closeReason(t); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("close reason %v, want ErrSlowConsumer", err)
			}
			if n := ts.srv.Stats().SlowConsumers; n != 1 {
				t.Fatalf("SlowConsumers = %d after Send, want 1", n)
			}
			if err := c.Offer(message("x")); !errors.Is(err, ErrClosed) {
				t.Fatalf("offer on a closed session: %v, want ErrClosed", err)
			}
		})
	}
}

// TestOfferAllOrNothing: a group that does not fit is refused whole, even
// when its first packets would fit. An empty queue takes a group larger
// than its whole bound: refused there, it could never be sent.
func TestOfferAllOrNothing(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute, QueueBytes: 10})
	sid := ts.openPolling(t)
	c := ts.srv.lookup(sid)
	// Each packet counts 6 bytes (data and type) against the bound of 10.
	p := engineio.Packet{Type: engineio.Message, Data: []byte("abcde")}
	q := engineio.Packet{Type: engineio.Message, Data: []byte("fghij")}
	if err := c.Offer(p); err != nil {
		t.Fatalf("offer that fits: %v", err)
	}
	if err := c.Offer(q, q); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("offer of 12 bytes after 6: %v, want ErrQueueFull", err)
	}
	if status, body, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || body != "4abcde" {
		t.Fatalf("poll: %d %q, want only the packet that fit", status, body)
	}
	if err := c.Offer(q, q); err != nil {
		t.Fatalf("offer of 12 bytes on an empty queue: %v", err)
	}
	if status, body, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || body != "4fghij\x1e4fghij" {
		t.Fatalf("poll: %d %q, want the group", status, body)
	}
}

// TestPingPastFullQueue: the heartbeat's ping goes out even when the queue
// is full (a client kept under drop_newest must not be cut for it), and
// the session stays open.
func TestPingPastFullQueue(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 100 * time.Millisecond, PingTimeout: 5 * time.Second, QueuePackets: 1})
	sid := ts.openPolling(t)
	c := ts.srv.lookup(sid)
	if err := c.Offer(engineio.Packet{Type: engineio.Message, Data: []byte("full")}); err != nil {
		t.Fatalf("offer: %v", err)
	}
	testenv.Eventually(t, "the ping queued behind the full queue", 5*time.Second, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.queue) == 2 || c.closed
	})
	if err := c.Err(); err != nil {
		t.Fatalf("session closed by the ping: %v", err)
	}
	if status, body, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || body != "4full\x1e2" {
		t.Fatalf("poll: %d %q, want the message and the ping", status, body)
	}
	if n := ts.srv.Stats().SlowConsumers; n != 0 {
		t.Fatalf("SlowConsumers = %d, want 0", n)
	}
}
