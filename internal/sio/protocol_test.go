package sio

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
)

func TestConnectMainNamespace(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.open(t)
	c.send("40")
	got := c.read()
	if !strings.HasPrefix(got, "40") {
		t.Fatalf("got %q", got)
	}
	var hs map[string]any
	if err := json.Unmarshal([]byte(got[2:]), &hs); err != nil || len(hs) != 1 || hs["sid"] == "" {
		t.Fatalf("handshake %q: %v", got, err)
	}
	if got := c.read(); got != `42["auth",{}]` {
		t.Errorf("auth event %q", got)
	}
}

func TestConnectWithAuth(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.open(t)
	c.send(`40{"token":"123"}`)
	c.read()
	if got := c.read(); got != `42["auth",{"token":"123"}]` {
		t.Errorf("auth event %q", got)
	}
}

func TestConnectCustomNamespace(t *testing.T) {
	ts := echoServer(t, Config{})
	for _, tc := range []struct{ send, auth string }{
		{"40/custom,", `42/custom,["auth",{}]`},
		{"40/custom", `42/custom,["auth",{}]`},
		{`40/custom,{"token":"abc"}`, `42/custom,["auth",{"token":"abc"}]`},
	} {
		c := ts.open(t)
		c.send(tc.send)
		if got := c.read(); !strings.HasPrefix(got, `40/custom,{"sid":"`) {
			t.Errorf("%s: connect answer %q", tc.send, got)
		}
		if got := c.read(); got != tc.auth {
			t.Errorf("%s: auth %q, want %q", tc.send, got, tc.auth)
		}
	}
}

func TestConnectUnknownNamespace(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.open(t)
	c.send("40/random")
	if got := c.read(); got != `44/random,{"message":"Invalid namespace"}` {
		t.Errorf("got %q", got)
	}
}

func TestInvalidHandshakeCloses(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.open(t)
	c.send("4abc")
	c.waitClosed()
}

func TestNoHandshakeCloses(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.open(t)
	c.waitClosed() // connectTimeout is 1s
}

func TestDisconnectMainNamespace(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.connect(t)
	c.send("41")
	// The Engine.IO connection stays open: the next packet is a ping.
	ctx := t.Context()
	typ, b, err := c.ws.Read(ctx)
	if err != nil || typ != websocket.MessageText || string(b) != "2" {
		t.Fatalf("got %v %q %v, want a ping", typ, b, err)
	}
	testenv.Eventually(t, "the namespace to be left", 5*time.Second, func() bool { return ts.srv.Of("/").Len() == 0 })
}

func TestConnectThenDisconnectCustom(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.connect(t)
	c.send("40/custom")
	c.read()
	c.read()
	c.send("41/custom")
	c.send(`42["message","message to main namespace"]`)
	if got := c.read(); got != `42["message-back","message to main namespace"]` {
		t.Errorf("got %q", got)
	}
}

func TestPlainEvent(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.connect(t)
	c.send(`42["message",1,"2",{"3":[true]}]`)
	if got := c.read(); got != `42["message-back",1,"2",{"3":[true]}]` {
		t.Errorf("got %q", got)
	}
}

func TestBinaryEvent(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.connect(t)
	c.send(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.sendBinary([]byte{1, 2, 3})
	c.sendBinary([]byte{4, 5, 6})
	if got := c.read(); got != `452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` {
		t.Errorf("got %q", got)
	}
	for _, want := range []string{"\x01\x02\x03", "\x04\x05\x06"} {
		if typ, got := c.readTyped(); typ != websocket.MessageBinary || got != want {
			t.Errorf("attachment %v %q, want %q", typ, got, want)
		}
	}
}

func TestEventWithAck(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.connect(t)
	c.send(`42456["message-with-ack",1,"2",{"3":[false]}]`)
	if got := c.read(); got != `43456[1,"2",{"3":[false]}]` {
		t.Errorf("got %q", got)
	}
}

func TestBinaryEventWithAck(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.connect(t)
	c.send(`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.sendBinary([]byte{1, 2, 3})
	c.sendBinary([]byte{4, 5, 6})
	if got := c.read(); got != `462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` {
		t.Errorf("got %q", got)
	}
	for _, want := range []string{"\x01\x02\x03", "\x04\x05\x06"} {
		if _, got := c.readTyped(); got != want {
			t.Errorf("attachment %q, want %q", got, want)
		}
	}
}

// Every malformed packet closes the connection, as the Node server does.
func TestInvalidPacketsClose(t *testing.T) {
	ts := echoServer(t, Config{MaxAttachments: 2})
	for _, bad := range []string{
		"4abc",                        // unknown packet type
		"42{}",                        // payload not an array
		`42abc["message-with-ack",1]`, // invalid ack id
		`42["disconnect"]`,            // reserved event name
		`42[]`,                        // no event name
		`42["message"`,                // truncated JSON
		`43-1[]`,                      // ack id not a number
		`453-["message",1]`,           // too many attachments
		`42/custom,["message",1]`,     // namespace not joined
		`40`,                          // main namespace joined twice
		`41{"x":1}`,                   // DISCONNECT with payload
		`451-["message",{"_placeholder":true,"num":0}]` + "\x00", // garbage after JSON
	} {
		t.Run(bad, func(t *testing.T) {
			c := ts.connect(t)
			c.send(bad)
			c.waitClosed()
		})
	}
}

func TestTextWhileAwaitingAttachmentCloses(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.connect(t)
	c.send(`451-["message",{"_placeholder":true,"num":0}]`)
	c.send(`42["message",1]`)
	c.waitClosed()
}

func TestUnexpectedBinaryCloses(t *testing.T) {
	ts := echoServer(t, Config{})
	c := ts.connect(t)
	c.sendBinary([]byte{1})
	c.waitClosed()
}
