package edge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
)

// A Socket.IO client's event whose attachments together pass
// edge.max_message_bytes, each under it (each attachment is an Engine.IO
// message of its own, which is what Node's maxHttpBufferSize bounds), is
// answered like any event with attachments, as the official server would
// take it: the client was disconnected instead.
func TestSocketIOAttachmentsTogetherOverTheMessageLimit(t *testing.T) {
	const limit = 1 << 10
	_, _, addr := startEdgeWith(t, edge.Options{
		Edge:        config.Edge{MaxMessageBytes: limit},
		DrainPeriod: time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dialPubSub(ctx, t, addr, "u1", true)
	c.write(ctx, t, `452-7["custom",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	for range 2 {
		if err := c.ws.Write(ctx, websocket.MessageBinary, []byte(strings.Repeat("x", limit*3/4))); err != nil {
			t.Fatal(err)
		}
	}
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the ack: %v", err)
		}
		if s := string(b); strings.HasPrefix(s, "437") {
			if want := `437[{"error":"bad_request: binary attachments are not supported"}]`; s != want {
				t.Fatalf("ack %s, want %s", s, want)
			}
			return
		}
	}
}
