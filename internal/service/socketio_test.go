package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker/membroker"
)

func TestSocketIOPubSub(t *testing.T) {
	e := startSocketIO(t, SocketIOConfig{}, membroker.Options{})
	a, b := e.dialSIO(t), e.dialSIO(t)
	if got := a.request("subscribe", `{"channel":"news"}`); got != `[{"ok":true,"seq":0}]` {
		t.Fatalf("subscribe ack %s", got)
	}
	// data travels as raw bytes: odd spacing and key order survive.
	for i, data := range []string{`{"b" : 2, "a":1}`, `"two"`, `3`} {
		want := `[{"ok":true,"seq":` + string(rune('1'+i)) + `}]`
		if got := b.request("publish", `{"channel":"news","data":`+data+`}`); got != want {
			t.Fatalf("publish ack %s, want %s", got, want)
		}
	}
	for i, data := range []string{`{"b" : 2, "a":1}`, `"two"`, `3`} {
		want := `42["message",{"channel":"news","seq":` + string(rune('1'+i)) + `,"data":` + data + `}]`
		if got := a.next(); got != want {
			t.Errorf("got %s\nwant %s", got, want)
		}
	}
	if got := a.request("unsubscribe", `{"channel":"news"}`); got != `[{"ok":true}]` {
		t.Fatalf("unsubscribe ack %s", got)
	}
	b.request("publish", `{"channel":"news","data":4}`)
	// A round trip after the publish: a message for a would come first.
	if got := a.request("subscribe", `{"channel":"other"}`); got != `[{"ok":true,"seq":0}]` || len(a.events) != 0 {
		t.Errorf("after unsubscribe: ack %s, events %q", got, a.events)
	}
	if s := e.svc.Stats(); s.Published != 4 || s.Connections != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestSocketIOSinceReplay(t *testing.T) {
	e := startSocketIO(t, SocketIOConfig{}, membroker.Options{})
	pub := e.dialSIO(t)
	for range 3 {
		pub.request("publish", `{"channel":"c","data":"x"}`)
	}
	sub := e.dialSIO(t)
	if got := sub.request("subscribe", `{"channel":"c","since":1}`); got != `[{"ok":true,"seq":3}]` {
		t.Fatalf("ack %s", got)
	}
	// The ack comes ahead of the replay.
	for _, seq := range []string{"2", "3"} {
		if got := sub.next(); !strings.Contains(got, `"seq":`+seq+`,`) {
			t.Errorf("replayed %s, want seq %s", got, seq)
		}
	}
	pub.request("publish", `{"channel":"c","data":"live"}`)
	if got := sub.next(); got != `42["message",{"channel":"c","seq":4,"data":"live"}]` {
		t.Errorf("live %s", got)
	}
}

// Every bad request gets an error ack with its code; the connection stays.
func TestSocketIOBadRequests(t *testing.T) {
	e := startSocketIO(t, SocketIOConfig{Limits: Limits{MaxSubscriptions: 2}}, membroker.Options{HistorySize: 2})
	c := e.dialSIO(t)
	for range 5 {
		c.request("publish", `{"channel":"old","data":1}`)
	}
	c.request("subscribe", `{"channel":"held"}`)
	cases := []struct{ event, arg, code string }{
		{"subscribe", ``, "bad_request"},
		{"subscribe", `"news"`, "bad_request"},
		{"subscribe", `[1]`, "bad_request"},
		{"subscribe", `{}`, "invalid_channel"},
		{"subscribe", `{"channel":""}`, "invalid_channel"},
		{"subscribe", `{"channel":"` + strings.Repeat("x", 300) + `"}`, "invalid_channel"},
		{"subscribe", `{"channel":7}`, "bad_request"},
		{"subscribe", `{"channel":"c","since":-1}`, "bad_since"},
		{"subscribe", `{"channel":"c","since":1.5}`, "bad_since"},
		{"subscribe", `{"channel":"c","since":"1"}`, "bad_since"},
		{"subscribe", `{"channel":"fresh","since":99}`, "bad_since"},
		{"subscribe", `{"channel":"old","since":1}`, "history_gone"},
		{"subscribe", `{"channel":"held"}`, "already_subscribed"},
		{"unsubscribe", `{"channel":"never"}`, "not_subscribed"},
		{"unsubscribe", `{}`, "invalid_channel"},
		{"publish", `{"data":1}`, "invalid_channel"},
		{"publish", `null`, "bad_request"},
		{"publish", `{"channel":"c","data":` + strings.Repeat("[", MaxDataDepth+1) + strings.Repeat("]", MaxDataDepth+1) + `}`, "bad_request"},
	}
	for _, tc := range cases {
		got := c.request(tc.event, tc.arg)
		if !strings.HasPrefix(got, `[{"error":"`+tc.code+`: `) {
			t.Errorf("%s %s: ack %s, want code %s", tc.event, tc.arg, got, tc.code)
		}
	}
	c.request("subscribe", `{"channel":"second"}`)
	if got := c.request("subscribe", `{"channel":"third"}`); !strings.HasPrefix(got, `[{"error":"too_many_subscriptions: `) {
		t.Errorf("third subscription: %s", got)
	}
	// Binary attachments are refused too.
	c.send(`451-99["publish",{"channel":"c","data":{"_placeholder":true,"num":0}}]`)
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if got := c.read(); !strings.HasPrefix(got, `4399[{"error":"bad_request: `) {
		t.Errorf("binary publish: %s", got)
	}
	// Publishing without data publishes null, as the Node reference does.
	if got := c.request("publish", `{"channel":"nodata"}`); got != `[{"ok":true,"seq":1}]` {
		t.Errorf("publish without data: %s", got)
	}
}

func TestSocketIOHTTPPublish(t *testing.T) {
	e := startSocketIO(t, SocketIOConfig{}, membroker.Options{})
	c := e.dialSIO(t)
	c.request("subscribe", `{"channel":"h"}`)
	if status, body := httpPost(t, e.url+PublishPath, `{"channel":"h","data":[1, 2]}`); status != 200 || !strings.Contains(body, `"seq":1`) {
		t.Fatalf("publish: %d %s", status, body)
	}
	if got := c.next(); got != `42["message",{"channel":"h","seq":1,"data":[1, 2]}]` {
		t.Errorf("got %s", got)
	}
}

// A client that stops reading is closed once its queue overflows, and
// counted. Over long-polling nothing is sent until the client polls, so
// the queue fills deterministically.
func TestSocketIOSlowConsumer(t *testing.T) {
	e := startSocketIO(t, SocketIOConfig{Limits: Limits{OutboundMessages: 4}}, membroker.Options{})
	base := e.url + SocketIOPath + "?EIO=4&transport=polling"
	_, body := httpGet(t, base)
	sid := body[strings.Index(body, `"sid":"`)+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	u := base + "&sid=" + sid
	httpPost(t, u, "40")
	httpPost(t, u, `420["subscribe",{"channel":"slow"}]`)
	if _, got := httpGet(t, u); !strings.HasPrefix(got, `40{"sid":`) || !strings.HasSuffix(got, `430[{"ok":true,"seq":0}]`) {
		t.Fatalf("connect and ack: %q", got)
	}
	ctx := t.Context()
	for range 10 {
		if _, err := e.b.Publish(ctx, "slow", []byte(`"x"`)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.svc.Stats().SlowConsumers == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not closed as slow: %+v", e.svc.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if status, _ := httpGet(t, u); status != 400 {
		t.Errorf("poll after slow close: %d", status)
	}
	deadline = time.Now().Add(5 * time.Second)
	for e.svc.Stats().Hub.Channels != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("subscription not released: %+v", e.svc.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSocketIOShutdownGoingAway(t *testing.T) {
	b := newBroker(t, membroker.Options{})
	svc, err := NewSocketIO(SocketIOConfig{Limits: Limits{DrainPeriod: 20 * time.Millisecond}}, b)
	if err != nil {
		t.Fatal(err)
	}
	e := &sioEnv{b: b, svc: svc}
	srv := newLoopbackServer(t, svc)
	e.url = srv
	c := e.dialSIO(t)
	c.request("subscribe", `{"channel":"s"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- svc.Shutdown(ctx) }()
	if code := c.waitClosed(); code != websocket.StatusGoingAway {
		t.Errorf("close code %v, want 1001", code)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

func TestSocketIOConfigErrors(t *testing.T) {
	b := newBroker(t, membroker.Options{})
	if _, err := NewSocketIO(SocketIOConfig{Limits: Limits{MaxSubscriptions: -1}}, b); err == nil {
		t.Error("negative limit accepted")
	}
	if _, err := NewSocketIO(SocketIOConfig{PingInterval: -time.Second}, b); err == nil {
		t.Error("negative ping interval accepted")
	}
	if _, err := NewSocketIO(SocketIOConfig{}, nil); err == nil {
		t.Error("nil broker accepted")
	}
}
