package sioclient

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// The official server flushes its whole write buffer into one polling
// response, however many packets it holds; the official client reads any
// number. A burst of 5000 small events (about 80 KB, far under
// maxHttpBufferSize) reaches a polling client.
func TestPollingBurstFromTheOfficialServer(t *testing.T) {
	url := startNode(t)
	opts := testOptions(t, PollingOnly)
	var n atomic.Int64
	opts.OnEvent = func(s *Socket, ev Event) {
		if ev.Name == "flood" {
			n.Add(1)
		}
	}
	c, s := dial(t, url, opts)
	if _, err := s.EmitWithAck(testenv.Context(t, 10*time.Second), "flood", []byte("5000")); err != nil {
		t.Fatalf("flood: %v (client: %v)", err, c.Err())
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < 5000 && time.Now().Before(deadline) {
		select {
		case <-c.Done():
			t.Fatalf("session ended after %d of 5000 events: %v", n.Load(), c.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if got := n.Load(); got != 5000 {
		t.Fatalf("%d of 5000 events", got)
	}
}

// Options.MaxMessageSize bounds "one incoming websocket message"; the
// official server answers here with a BINARY_ACK whose two attachments
// are two websocket messages of 600 KB each, both under the 1 MiB bound.
func TestBinaryAckAttachmentsEachUnderTheLimit(t *testing.T) {
	url := startNode(t)
	c, s := dial(t, url, testOptions(t, WebSocket))
	a, b := make([]byte, 600_000), make([]byte, 600_000)
	reply, err := s.EmitPayloadWithAck(testenv.Context(t, 10*time.Second), "echo",
		Payload{Args: [][]byte{Placeholder(0), Placeholder(1)}, Binary: [][]byte{a, b}})
	if err != nil {
		t.Fatalf("echo: %v (client: %v)", err, c.Err())
	}
	if len(reply.Binary) != 2 || len(reply.Binary[0]) != 600_000 || len(reply.Binary[1]) != 600_000 {
		t.Fatalf("reply attachments %d", len(reply.Binary))
	}
}
