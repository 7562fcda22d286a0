package service

import (
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/broker/membroker"
)

// Protocol-suite mode: the settings and handlers the official test suites
// assume.
func TestSocketIOProtocolSuiteMode(t *testing.T) {
	e := startSocketIO(t, SocketIOConfig{ProtocolSuite: true}, membroker.Options{})
	const hs = `"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`
	for _, path := range []string{"/engine.io/", SocketIOPath} {
		status, body := httpGet(t, e.url+path+"?EIO=4&transport=polling")
		if status != 200 || !strings.HasPrefix(body, "0{") || !strings.HasSuffix(body, hs) {
			t.Errorf("%s handshake: %d %s", path, status, body)
		}
	}

	// /engine.io/ echoes text and (base64) binary messages.
	_, body := httpGet(t, e.url+"/engine.io/?EIO=4&transport=polling")
	sid := body[strings.Index(body, `"sid":"`)+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	u := e.url + "/engine.io/?EIO=4&transport=polling&sid=" + sid
	if status, got := httpPost(t, u, "4hello\x1ebAQIDBA=="); status != 200 || got != "ok" {
		t.Fatalf("POST: %d %q", status, got)
	}
	if _, got := httpGet(t, u); got != "4hello\x1ebAQIDBA==" {
		t.Errorf("echo %q", got)
	}

	c := e.dialSIO(t)
	if got := c.next(); got != `42["auth",{}]` {
		t.Errorf("auth %s", got)
	}
	c.send(`42["message",1,"2",{"3":[true]}]`)
	if got := c.next(); got != `42["message-back",1,"2",{"3":[true]}]` {
		t.Errorf("message-back %s", got)
	}
	if got := c.request("message-with-ack", `1,"2"`); got != `[1,"2"]` {
		t.Errorf("ack %s", got)
	}
	// The pub/sub API stays available on "/".
	if got := c.request("subscribe", `{"channel":"x"}`); got != `[{"ok":true,"seq":0}]` {
		t.Errorf("subscribe %s", got)
	}
	c.send("40/custom,")
	if got := c.next(); !strings.HasPrefix(got, `40/custom,{"sid":"`) {
		t.Errorf("custom connect %s", got)
	}
	if got := c.next(); got != `42/custom,["auth",{}]` {
		t.Errorf("custom auth %s", got)
	}
}
