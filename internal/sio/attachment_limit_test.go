package sio

import (
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/eio"
)

// MaxPayload (Node's maxHttpBufferSize) bounds each Engine.IO message, not
// a Socket.IO packet with its attachments: each attachment is a message
// of its own. The official server takes a binary event whose attachments
// together pass maxHttpBufferSize, each under it, and so must we: the
// official client sends one when asked to, and was disconnected for it.
func TestAttachmentsTogetherOverMaxPayload(t *testing.T) {
	ts := echoServer(t, Config{Engine: eio.Config{MaxPayload: 1000}})
	c := ts.connect(t)
	a, b := strings.Repeat("a", 600), strings.Repeat("b", 600)
	c.send(`452-7["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.sendBinary([]byte(a))
	c.sendBinary([]byte(b))
	if got := c.read(); got != `462-7[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` {
		t.Fatalf("got %q, want the ack with both attachments", got)
	}
	for _, want := range []string{a, b} {
		if _, got := c.readTyped(); got != want {
			t.Errorf("attachment of %d bytes, want %d", len(got), len(want))
		}
	}
}

// The bound that stays: more attachments than MaxAttachments, or one
// message over MaxPayload, closes the connection.
func TestAttachmentOverMaxPayloadCloses(t *testing.T) {
	ts := echoServer(t, Config{Engine: eio.Config{MaxPayload: 1000}})
	c := ts.connect(t)
	c.send(`451-7["message-with-ack",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte(strings.Repeat("a", 1001)))
	c.waitClosed()
}
