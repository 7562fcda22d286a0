package sio

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPipelinedRequestsOverWebSocket: a client that writes many requests
// at once over WebSocket and starts reading a moment later gets every ack:
// more answers than the outbound queue holds are the server's own doing,
// not a sign that the client is slow, and the server stops reading the
// client's requests until it has taken its answers (as TCP would make a
// writer wait) rather than closing it as a slow consumer.
func TestPipelinedRequestsOverWebSocket(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	// Answers of 4 KiB: 3,000 of them are more than the kernel's socket
	// buffers hold while the client is not reading yet.
	answer := []byte(`"` + strings.Repeat("a", 4096) + `"`)
	srv.Of("/").On("e", func(_ *Socket, e *Event) { _ = e.Ack(answer) })
	ts := serve(t, srv)
	c := ts.open(t)
	c.send("40")
	c.read()
	const n = 3000
	got := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // a busy client, far from the ping timeout
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i := range n {
			_, b, err := c.next(ctx)
			if err != nil {
				got <- fmt.Errorf("after %d of %d acks: %w (slow consumers: %d)", i, n, err, srv.Engine().Stats().SlowConsumers)
				return
			}
			if want := fmt.Sprintf("43%d[%s]", i, answer); string(b) != want {
				got <- fmt.Errorf("ack %d: %.20q…, want %.20q…", i, b, want)
				return
			}
		}
		got <- nil
	}()
	for i := range n {
		c.send(fmt.Sprintf(`42%d["e"]`, i))
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
