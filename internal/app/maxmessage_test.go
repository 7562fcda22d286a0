package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/service"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// What the edge accepts from a client comes back to it: a publish as
// large as edge.max_message_bytes allows is delivered to the channel's
// subscribers through the gateway. The backend's frame that carries it
// back is the client's frame and a little more (the message's seq, its
// event name), and the gateway read backend frames only up to a fixed
// 1 MiB: a raised edge.max_message_bytes, or a Socket.IO client's publish
// within a few bytes of the limit, ended the session's backend connection
// on the message, which the backend replayed on every re-attach; the
// publisher got an error although its message was published, and the
// subscribers never saw it.
func TestMessagesUpToTheEdgeLimitComeBack(t *testing.T) {
	b := testBroker(t)
	// Backends that take larger messages than the gateway's clients may send.
	limits := service.Limits{MaxMessageBytes: 8 << 20, OutboundBytes: 8 << 20}
	blue, green := backendtest.LegacyWithLimits(t, b, limits), backendtest.SocketIOWith(t, b, limits, nil)

	t.Run("legacy client, raised limit", func(t *testing.T) {
		cfg := testConfig(blue, green, "")
		cfg.Edge.MaxMessageBytes = 2 << 20
		a := start(t, cfg, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := legacyclient.Dial(ctx, "ws://"+a.EdgeAddr()+"/ws?user=large", legacyclient.Options{MaxMessageBytes: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		const ch = "large"
		if _, err := c.Subscribe(ctx, ch, nil); err != nil {
			t.Fatal(err)
		}
		data := jsonString(3 << 19) // 1.5 MiB
		if _, err := c.Publish(ctx, ch, data); err != nil {
			t.Fatalf("publish of %d bytes (edge.max_message_bytes %d): %v", len(data), cfg.Edge.MaxMessageBytes, err)
		}
		select {
		case m, ok := <-c.Messages():
			if !ok {
				t.Fatalf("client closed before the message: %v", c.Err())
			}
			if m.Channel != ch || !bytes.Equal(m.Data, data) {
				t.Fatalf("got channel %q with %d bytes, want %q with %d", m.Channel, len(m.Data), ch, len(data))
			}
		case <-c.Done():
			t.Fatalf("client closed: %v", c.Err())
		case <-ctx.Done():
			t.Fatal("the published message never came back")
		}
	})

	t.Run("socket.io client, frame at the limit", func(t *testing.T) {
		cfg := testConfig(blue, green, "")
		cfg.Routing.Allow = []string{"at-limit"} // on green (Socket.IO)
		a := start(t, cfg, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl, err := sioclient.Dial(ctx, "http://"+a.EdgeAddr()+"/socket.io/?user=at-limit", sioclient.Options{MaxMessageSize: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		s, err := cl.Connect(ctx, "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		const ch = "at-limit"
		if err := s.Subscribe(ctx, ch, nil); err != nil {
			t.Fatal(err)
		}
		// The publish (ack id 1, after the subscribe's 0) fills the edge's
		// limit exactly: 4 (Engine.IO message) 2 (event) 1 ["publish",{...}].
		frame := func(data []byte) int {
			return len(`421["publish",{"channel":"` + ch + `","data":` + string(data) + `}]`)
		}
		limit := 1 << 20 // the default edge.max_message_bytes
		data := jsonString(limit - frame(jsonString(2)) + 2)
		if frame(data) != limit {
			t.Fatalf("frame of %d bytes, want %d", frame(data), limit)
		}
		if _, err := s.Publish(ctx, ch, data); err != nil {
			t.Fatalf("publish of a %d-byte frame (edge.max_message_bytes %d): %v", frame(data), limit, err)
		}
		for {
			select {
			case ev := <-s.Events():
				if ev.Message == nil {
					continue
				}
				if ev.Message.Channel != ch || !bytes.Equal(ev.Message.Data, data) {
					t.Fatalf("got channel %q with %d bytes, want %q with %d", ev.Message.Channel, len(ev.Message.Data), ch, len(data))
				}
				return
			case <-s.Done():
				t.Fatalf("socket closed: %v", s.Err())
			case <-ctx.Done():
				t.Fatal("the published message never came back")
			}
		}
	})
}

// jsonString is a JSON string of n bytes, quotes included (n >= 2).
func jsonString(n int) []byte {
	return []byte(`"` + strings.Repeat("x", n-2) + `"`)
}
