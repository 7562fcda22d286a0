package gwbench

import (
	"context"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/loadgen/drive"
)

// A Socket.IO client of the driver speaks Engine.IO v4 over a WebSocket
// from the first request (no long-polling), in the main namespace, with
// the reference services' events: subscribe, unsubscribe and publish with
// an ack, and "message" events carrying {"channel","seq","data"}. Like the
// legacy client it reads only the head of each frame, and its requests
// and answers carry the same JSON fields, so both share the tracking.

// handleSIO handles one Engine.IO text frame (see drive.ClassifySocketIO):
// a ping is answered, a "message" event and an answer go to the shared
// handling.
func (c *client) handleSIO(f []byte, now time.Time) {
	switch kind, id := drive.ClassifySocketIO(f); kind {
	case drive.FramePing:
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		_ = c.conn.Write(ctx, websocket.MessageText, []byte("3"))
	case drive.FrameMessage:
		c.handleFields("message", 0, f, now)
	case drive.FrameAck:
		c.handleFields("ack", int64(id), f, now)
	case drive.FrameError:
		c.handleFields("error", int64(id), f, now)
	}
}
