package sio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/eio"
)

func TestMiddlewareRefuses(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	n := srv.Of("/")
	n.Use(func(s *Socket) error {
		if string(s.Auth()) == `{"token":"good"}` {
			return nil
		}
		if string(s.Auth()) == `{}` {
			return errors.New("no token")
		}
		return &ConnectError{Message: "bad token", Data: []byte(`{"retry":false}`)}
	})
	joined := make(chan string, 1)
	n.OnConnect(func(s *Socket) { joined <- s.ID() })
	ts := serve(t, srv)

	c := ts.open(t)
	c.send("40")
	if got := c.read(); got != `44{"message":"no token"}` {
		t.Errorf("got %q", got)
	}
	c.send(`40{"token":"bad"}`)
	if got := c.read(); got != `44{"message":"bad token","data":{"retry":false}}` {
		t.Errorf("got %q", got)
	}
	// A refused client may try again on the same connection.
	c.send(`40{"token":"good"}`)
	if got := c.read(); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Errorf("got %q", got)
	}
	if id := <-joined; srv.Of("/").Socket(id) == nil {
		t.Errorf("socket %s not in the namespace", id)
	}
}

// TestServerAckRoundTrip: the client's ACK reaches the EmitWithAck that
// waits for its id; an ACK without an id answers nothing (Node: "bad
// ack") and leaves the waiter of ack id 0 in place.
func TestServerAckRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []string
		want    []string
	}{
		{"answer", []string{`430[42, {"why":"because"}]`}, []string{"42", `{"why":"because"}`}},
		{"stray ack first", []string{`43["stray"]`, `430[42]`}, []string{"42"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := NewServer(Config{})
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				ack Ack
				err error
			}
			results := make(chan result, 1)
			srv.Of("/").OnConnect(func(s *Socket) {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					a, err := s.EmitWithAck(ctx, "question", []byte(`"life"`))
					results <- result{a, err}
				}()
			})
			ts := serve(t, srv)
			c := ts.open(t)
			c.send("40")
			c.read()
			if got := c.read(); got != `420["question","life"]` {
				t.Fatalf("got %q", got)
			}
			for _, a := range tc.answers {
				c.send(a)
			}
			r := <-results
			got := make([]string, len(r.ack.Args))
			for i, a := range r.ack.Args {
				got[i] = string(a)
			}
			if r.err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ack %q, %v; want %q", got, r.err, tc.want)
			}
		})
	}
}

func TestServerAckTimeoutAndDisconnect(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	srv.Of("/").OnConnect(func(s *Socket) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := s.EmitWithAck(ctx, "q1")
			errs <- err
			_, err = s.EmitWithAck(context.Background(), "q2")
			errs <- err
		}()
	})
	ts := serve(t, srv)
	c := ts.open(t)
	c.send("40")
	c.read()
	if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	c.read() // q1
	c.read() // q2
	c.send("41")
	if err := <-errs; !errors.Is(err, ErrDisconnected) || !errors.Is(err, ErrClientDisconnect) {
		t.Errorf("after disconnect: %v", err)
	}
}

func TestRoomsAndBroadcast(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	n := srv.Of("/")
	n.On("join", func(s *Socket, e *Event) {
		s.Join(strings.Trim(string(e.Args[0]), `"`))
		_ = e.Ack()
	})
	n.On("leave", func(s *Socket, e *Event) {
		s.Leave(strings.Trim(string(e.Args[0]), `"`))
		_ = e.Ack()
	})
	ts := serve(t, srv)
	a, b := ts.open(t), ts.open(t)
	for _, c := range []*wsClient{a, b} {
		c.send("40")
		c.read()
	}
	a.send(`421["join","red"]`)
	a.read()
	b.send(`421["join","blue"]`)
	b.read()

	if err := n.To("red").Emit("color", []byte(`"red"`)); err != nil {
		t.Fatal(err)
	}
	if got := a.read(); got != `42["color","red"]` {
		t.Errorf("a got %q", got)
	}
	if err := n.Emit("all", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if got := a.read(); got != `42["all",1]` {
		t.Errorf("a got %q", got)
	}
	if got := b.read(); got != `42["all",1]` {
		t.Errorf("b got %q", got)
	}
	_ = n.To("red", "blue").Except("blue").Emit("x")
	if got := a.read(); got != `42["x"]` {
		t.Errorf("a got %q", got)
	}
	a.send(`422["leave","red"]`)
	a.read()
	_ = n.To("red").Emit("nobody")
	_ = n.To("blue").Emit("b-only")
	if got := b.read(); got != `42["b-only"]` {
		t.Errorf("b got %q", got)
	}
	if err := n.Emit("disconnect"); !errors.Is(err, ErrReservedEvent) {
		t.Errorf("reserved broadcast: %v", err)
	}
	a.expectNothing(100 * time.Millisecond)
}

// TestOwnRoom checks that each socket is in the room named by its id, as
// in Node, and can leave and rejoin it.
func TestOwnRoom(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	n := srv.Of("/")
	ids := make(chan string, 2)
	n.OnConnect(func(s *Socket) { ids <- s.ID() })
	n.On("leave", func(s *Socket, e *Event) {
		s.Leave(s.ID())
		_ = e.Ack(fmt.Appendf(nil, "%d", len(s.Rooms())))
	})
	n.On("join", func(s *Socket, e *Event) {
		s.Join(s.ID())
		_ = e.Ack(fmt.Appendf(nil, "%d", len(s.Rooms())))
	})
	ts := serve(t, srv)
	a, b := ts.open(t), ts.open(t)
	a.send("40")
	a.read()
	idA := <-ids
	b.send("40")
	b.read()
	idB := <-ids
	if s := n.Socket(idA); s == nil || !slices.Equal(s.Rooms(), []string{idA}) {
		t.Fatalf("rooms of a: %v", s.Rooms())
	}

	_ = n.To(idA).Emit("to-a")
	if got := a.read(); got != `42["to-a"]` {
		t.Errorf("a got %q", got)
	}
	_ = n.To(idA, idB).Except(idB).Emit("a-only")
	if got := a.read(); got != `42["a-only"]` {
		t.Errorf("a got %q", got)
	}
	a.send(`421["leave"]`)
	if got := a.read(); got != `431[0]` {
		t.Errorf("leave ack %q", got)
	}
	_ = n.To(idA).Emit("nobody")
	a.send(`422["join"]`)
	if got := a.read(); got != `432[1]` {
		t.Errorf("join ack %q", got)
	}
	_ = n.To(idA).Emit("back")
	if got := a.read(); got != `42["back"]` {
		t.Errorf("a got %q", got)
	}
	b.expectNothing(100 * time.Millisecond)
}

func TestServerDisconnectAndClose(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	sockets := make(chan *Socket, 2)
	reasons := make(chan error, 4)
	for _, name := range []string{"/", "/b"} {
		n := srv.Of(name)
		n.OnConnect(func(s *Socket) { sockets <- s })
		n.OnDisconnect(func(_ *Socket, reason error) { reasons <- reason })
	}
	ts := serve(t, srv)
	c := ts.open(t)
	c.send("40")
	c.read()
	c.send("40/b,")
	c.read()
	main, b := <-sockets, <-sockets
	if main.Namespace().Name() != "/" {
		main, b = b, main
	}
	if err := main.Emit("connect"); !errors.Is(err, ErrReservedEvent) {
		t.Errorf("reserved emit: %v", err)
	}
	b.Disconnect()
	if got := c.read(); got != "41/b," {
		t.Errorf("got %q", got)
	}
	if r := <-reasons; !errors.Is(r, ErrServerDisconnect) {
		t.Errorf("reason %v", r)
	}
	main.Close()
	if got := c.read(); got != "41" {
		t.Errorf("got %q", got)
	}
	c.waitClosed()
	if r := <-reasons; !errors.Is(r, ErrServerClose) {
		t.Errorf("reason %v", r)
	}
}

func TestConnectionCloseReason(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := make(chan error, 1)
	srv.Of("/").OnDisconnect(func(_ *Socket, reason error) { reasons <- reason })
	ts := serve(t, srv)
	c := ts.open(t)
	c.send("40")
	c.read()
	_ = c.ws.CloseNow()
	if r := <-reasons; !errors.Is(r, eio.ErrTransport) && !errors.Is(r, eio.ErrClientClose) {
		t.Errorf("reason %v", r)
	}
}

// Over long-polling, binary attachments travel base64-encoded ("b" prefix)
// in the same payload as their text packet.
func TestPollingBinaryEvent(t *testing.T) {
	ts := echoServer(t, Config{})
	status, body := httpDo(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	if status != 200 {
		t.Fatal(status)
	}
	sid := body[strings.Index(body, `"sid":"`)+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	u := ts.url + "?EIO=4&transport=polling&sid=" + sid
	httpDo(t, "POST", u, "40")
	if _, got := httpDo(t, "GET", u, ""); !strings.HasPrefix(got, `40{"sid":"`) || !strings.HasSuffix(got, "\x1e"+`42["auth",{}]`) {
		t.Fatalf("connect payload %q", got)
	}
	httpDo(t, "POST", u, `451-["message",{"_placeholder":true,"num":0}]`+"\x1ebAQID")
	want := `451-["message-back",{"_placeholder":true,"num":0}]` + "\x1ebAQID"
	if _, got := httpDo(t, "GET", u, ""); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{ConnectTimeout: -1},
		{MaxAttachments: -1},
		{MaxPacketSize: -1},
		{Engine: eio.Config{PingInterval: -1}},
	} {
		if _, err := NewServer(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestHeldAcks: an ack sent while its handler runs goes out with the
// reader's flush once the handler returns; one sent later after HoldAcks
// goes out with the connection's next Flush (or the reader's, if that
// comes first); one sent later without it goes out by itself.
func TestHeldAcks(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	later := make(chan *Event, 2)
	conns := make(chan *Socket, 1)
	n := srv.Of("/")
	n.OnConnect(func(s *Socket) { conns <- s })
	n.On("now", func(_ *Socket, e *Event) { _ = e.Ack([]byte(`"now"`)) })
	n.On("held", func(_ *Socket, e *Event) {
		e.HoldAcks()
		later <- e
	})
	n.On("plain", func(_ *Socket, e *Event) { later <- e })
	ts := serve(t, srv)
	c := ts.open(t)
	c.send("40")
	c.read()
	s := <-conns
	got := make(chan string, 4)
	go func() {
		for {
			_, b, err := c.next(t.Context())
			if err != nil {
				return
			}
			got <- string(b)
		}
	}()
	expect := func(what, want string) {
		t.Helper()
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("%s: %q, want %q", what, g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: nothing came", what)
		}
	}

	c.send(`421["now"]`)
	expect("ack in the handler", `431["now"]`)
	c.send(`422["held"]`)
	e := <-later
	if err := e.Ack([]byte(`"held"`)); err != nil {
		t.Fatal(err)
	}
	s.Conn().Flush()
	expect("held ack after Flush", `432["held"]`)
	c.send(`423["plain"]`)
	e = <-later
	if err := e.Ack([]byte(`"plain"`)); err != nil {
		t.Fatal(err)
	}
	expect("ack after the handler, not held", `433["plain"]`)
}

// TestAckRacingItsHandlersReturn: an ack sent from another goroutine that
// finds the handler still running is held for the reader's flush; when the
// handler returns and the reader flushes before that ack is queued, the ack
// must still go out rather than wait for the connection's next flush.
func TestAckRacingItsHandlersReturn(t *testing.T) {
	srv, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	// Between the ack's decision to hold and its queueing, wait until the
	// handler has returned and the reader has had its flush.
	deciding := make(chan struct{})
	testHookHeldAck = func(e *Event) {
		close(deciding)
		deadline := time.Now().Add(5 * time.Second)
		for e.inHandler.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { testHookHeldAck = nil })
	n := srv.Of("/")
	n.On("async", func(_ *Socket, e *Event) {
		go func() { _ = e.Ack([]byte(`"late"`)) }()
		<-deciding // the ack has decided to hold
	})
	ts := serve(t, srv)
	c := ts.open(t)
	c.send("40")
	c.read()
	c.send(`421["async"]`)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, b, err := c.next(ctx)
	if err != nil {
		t.Fatalf("no ack: %v", err)
	}
	if string(b) != `431["late"]` {
		t.Fatalf("got %q, want the ack", b)
	}
}
