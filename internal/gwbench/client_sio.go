package gwbench

import (
	"bytes"
	"context"
	"strconv"
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

// sioPath is the Engine.IO endpoint with the query a WebSocket-only
// client sends.
const sioPath = "/socket.io/?EIO=4&transport=websocket"

var (
	sioMessage = []byte(`42["message",`)
	sioAck     = []byte("43")
	keyError   = []byte(`"error":`)
)

// handleSIO handles one Engine.IO text frame: a ping is answered, a
// "message" event and an ack go to the shared handling.
func (c *client) handleSIO(f []byte, now time.Time) {
	switch {
	case string(f) == "2":
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		_ = c.conn.Write(ctx, websocket.MessageText, []byte("3"))
	case bytes.HasPrefix(f, sioMessage):
		c.handleFields("message", 0, f, now)
	case bytes.HasPrefix(f, sioAck):
		id, ok := drive.IntAfter(f, sioAck)
		if !ok {
			return
		}
		typ := "ack"
		if bytes.Contains(f, keyError) {
			typ = "error"
		}
		c.handleFields(typ, id, f, now)
	}
}

// sioRequestHead appends 42<id>["typ",{"channel":channel, an event with
// an ack id, without its closing brackets.
func sioRequestHead(b []byte, typ string, id int64, channel string) []byte {
	b = strconv.AppendInt(append(b, "42"...), id, 10)
	b = append(b, `["`...)
	b = append(b, typ...)
	b = append(b, `",{"channel":`...)
	return strconv.AppendQuote(b, channel)
}
