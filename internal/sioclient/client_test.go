package sioclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

func argsString(args [][]byte) string {
	return string(bytes.Join(args, []byte(",")))
}

// TestEcho runs emit-with-ack, plain emit and binary traffic on every
// transport against the official server.
func TestEcho(t *testing.T) {
	url := startNode(t)
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			_, s := dial(t, url, testOptions(t, tr))
			ctx := testenv.Context(t, 10*time.Second)

			reply, err := s.EmitWithAck(ctx, "echo", []byte(`{"a":[1,2]}`), []byte(`"x"`), []byte(`null`))
			if err != nil {
				t.Fatal(err)
			}
			if got := argsString(reply.Args); got != `{"a":[1,2]},"x",null` {
				t.Fatalf("ack args = %s", got)
			}

			if err := s.Emit(ctx, "echo", []byte(`"back"`)); err != nil {
				t.Fatal(err)
			}
			if ev := nextEvent(t, s, "echo"); argsString(ev.Args) != `"back"` || ev.WantsAck() {
				t.Fatalf("echo event = %s (wants ack %v)", argsString(ev.Args), ev.WantsAck())
			}

			// Binary ack: the server answers the size and the bytes reversed.
			reply, err = s.EmitPayloadWithAck(ctx, "binary", Payload{
				Args:   [][]byte{Placeholder(0)},
				Binary: [][]byte{{1, 2, 3, 4, 0xff}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(reply.Args) != 2 || string(reply.Args[0]) != `{"size":5}` {
				t.Fatalf("binary ack args = %s", argsString(reply.Args))
			}
			if len(reply.Binary) != 1 || !bytes.Equal(reply.Binary[0], []byte{0xff, 4, 3, 2, 1}) {
				t.Fatalf("binary ack attachments = %v", reply.Binary)
			}

			// Binary event from the server.
			if err := s.Emit(ctx, "send-binary"); err != nil {
				t.Fatal(err)
			}
			ev := nextEvent(t, s, "bin")
			if len(ev.Args) != 2 || string(ev.Args[0]) != `{"kind":"bin"}` || len(ev.Binary) != 1 || !bytes.Equal(ev.Binary[0], []byte{1, 2, 3}) {
				t.Fatalf("bin event = %s %v", argsString(ev.Args), ev.Binary)
			}
		})
	}
}

// TestUpgrade checks that a polling session moves to websocket and that
// traffic sent during the upgrade is neither lost nor reordered.
func TestUpgrade(t *testing.T) {
	url := startNode(t)
	c, s := dial(t, url, testOptions(t, Polling))
	ctx := testenv.Context(t, 10*time.Second)

	// Concurrent acked emits straddle the upgrade.
	echoConcurrently(t, ctx, s, 8, 25, func(g, i int) []byte { return fmt.Appendf(nil, `"%d-%d"`, g, i) })

	deadline := time.Now().Add(10 * time.Second)
	for c.Transport() != "websocket" {
		if time.Now().After(deadline) {
			t.Fatal("no upgrade to websocket within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	reply, err := s.EmitWithAck(ctx, "transport")
	if err != nil {
		t.Fatal(err)
	}
	if got := argsString(reply.Args); got != `"websocket"` {
		t.Fatalf("server sees transport %s", got)
	}
}

func TestPollingOnlyStays(t *testing.T) {
	url := startNode(t)
	c, s := dial(t, url, testOptions(t, PollingOnly))
	reply, err := s.EmitWithAck(testenv.Context(t, 10*time.Second), "transport")
	if err != nil {
		t.Fatal(err)
	}
	if got := argsString(reply.Args); got != `"polling"` || c.Transport() != "polling" {
		t.Fatalf("server sees %s, client %s", got, c.Transport())
	}
}

// TestServerAck: the server emits with a callback and the client answers.
func TestServerAck(t *testing.T) {
	url := startNode(t)
	for _, tr := range []Transport{WebSocket, PollingOnly} {
		t.Run(tr.String(), func(t *testing.T) {
			_, s := dial(t, url, testOptions(t, tr))
			ctx := testenv.Context(t, 10*time.Second)
			answered := make(chan error, 1)
			go func() {
				ev := nextEvent(t, s, "question")
				if !ev.WantsAck() || argsString(ev.Args) != `"why?"` {
					answered <- fmt.Errorf("question = %s, wants ack %v", argsString(ev.Args), ev.WantsAck())
					return
				}
				answered <- ev.AckPayload(ctx, Payload{Args: [][]byte{[]byte(`"because"`), Placeholder(0)}, Binary: [][]byte{{9}}})
			}()
			reply, err := s.EmitWithAck(ctx, "ask", []byte(`"why?"`))
			if err != nil {
				t.Fatal(err)
			}
			if err := <-answered; err != nil {
				t.Fatal(err)
			}
			// The server relays our binary answer: the attachment comes back.
			if len(reply.Args) != 2 || string(reply.Args[0]) != `"because"` || len(reply.Binary) != 1 || reply.Binary[0][0] != 9 {
				t.Fatalf("relayed answer = %s %v", argsString(reply.Args), reply.Binary)
			}
		})
	}
}

func TestNamespaceAuth(t *testing.T) {
	url := startNode(t)
	c, root := dial(t, url, testOptions(t, WebSocket))
	ctx := testenv.Context(t, 10*time.Second)

	_, err := c.Connect(ctx, "/admin", []byte(`{"token":"wrong"}`))
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Message != "unauthorized" || string(ce.Data) != `{"reason":"bad token"}` || ce.Namespace != "/admin" {
		t.Fatalf("bad auth: err = %v", err)
	}

	admin, err := c.Connect(ctx, "/admin", []byte(`{"token":"secret","user":"ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	if admin.ID() == "" || admin.Namespace() != "/admin" {
		t.Fatalf("socket id %q namespace %q", admin.ID(), admin.Namespace())
	}
	reply, err := admin.EmitWithAck(ctx, "whoami")
	if err != nil {
		t.Fatal(err)
	}
	if got := argsString(reply.Args); got != `{"nsp":"/admin","user":"ann"}` {
		t.Fatalf("whoami = %s", got)
	}
	if _, err := c.Connect(ctx, "/admin", nil); !errors.Is(err, ErrAlreadyConnected) {
		t.Fatalf("second connect: %v", err)
	}

	// Leaving one namespace keeps the others and the session.
	if err := admin.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(admin.Err(), ErrClosed) || c.Err() != nil {
		t.Fatalf("after socket close: socket %v, client %v", admin.Err(), c.Err())
	}
	if _, err := admin.EmitWithAck(ctx, "whoami"); !errors.Is(err, ErrClosed) {
		t.Fatalf("emit on closed socket: %v", err)
	}
	// One round trip lets the server finish the DISCONNECT (see Close).
	if _, err := root.EmitWithAck(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(ctx, "/admin", []byte(`{"token":"secret"}`)); err != nil {
		t.Fatalf("reconnect namespace: %v", err)
	}
}

func TestInvalidNamespace(t *testing.T) {
	url := startNode(t)
	for _, tr := range []Transport{WebSocket, PollingOnly} {
		t.Run(tr.String(), func(t *testing.T) {
			c, s := dial(t, url, testOptions(t, tr))
			_, err := c.Connect(testenv.Context(t, 10*time.Second), "/nope", nil)
			var ce *ConnectError
			if !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
				t.Fatalf("err = %v", err)
			}
			if _, err := s.EmitWithAck(testenv.Context(t, 10*time.Second), "echo", []byte("1")); err != nil {
				t.Fatalf("default namespace after refusal: %v", err)
			}
		})
	}
}

func TestRoomBroadcast(t *testing.T) {
	url := startNode(t)
	_, a := dial(t, url, testOptions(t, WebSocket))
	_, b := dial(t, url, testOptions(t, PollingOnly))
	_, outsider := dial(t, url, testOptions(t, WebSocket))
	ctx := testenv.Context(t, 10*time.Second)
	for _, s := range []*Socket{a, b} {
		if _, err := s.EmitWithAck(ctx, "join", []byte(`"room1"`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.EmitWithAck(ctx, "broadcast", []byte(`"room1"`), []byte(`{"hi":1}`)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Socket{a, b} {
		if ev := nextEvent(t, s, "broadcast"); argsString(ev.Args) != `{"hi":1}` {
			t.Fatalf("broadcast = %s", argsString(ev.Args))
		}
	}
	// The outsider got nothing: its next event is its own echo.
	if err := outsider.Emit(ctx, "echo", []byte(`"me"`)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-outsider.Events():
		if ev.Name != "echo" {
			t.Fatalf("outsider received %q", ev.Name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("outsider: no echo")
	}
}

func TestServerDisconnect(t *testing.T) {
	url := startNode(t)
	for _, tr := range []Transport{WebSocket, PollingOnly} {
		t.Run(tr.String()+"/namespace", func(t *testing.T) {
			c, s := dial(t, url, testOptions(t, tr))
			if err := s.Emit(testenv.Context(t, 10*time.Second), "kick", []byte("false")); err != nil {
				t.Fatal(err)
			}
			waitDone(t, s.Done())
			if !errors.Is(s.Err(), ErrServerDisconnect) {
				t.Fatalf("socket err = %v", s.Err())
			}
			if _, ok := <-s.Events(); ok {
				t.Fatal("events channel not closed")
			}
			if c.Err() != nil {
				t.Fatalf("client ended too: %v", c.Err())
			}
			if _, err := c.Connect(testenv.Context(t, 10*time.Second), "/", nil); err != nil {
				t.Fatalf("rejoin: %v", err)
			}
		})
		t.Run(tr.String()+"/transport", func(t *testing.T) {
			c, s := dial(t, url, testOptions(t, tr))
			if err := s.Emit(testenv.Context(t, 10*time.Second), "kick", []byte("true")); err != nil {
				t.Fatal(err)
			}
			waitDone(t, c.Done())
			waitDone(t, s.Done())
			if !errors.Is(c.Err(), ErrTransportClosed) {
				t.Fatalf("client err = %v", c.Err())
			}
			// The namespace DISCONNECT may or may not beat the transport close.
			if err := s.Err(); !errors.Is(err, ErrServerDisconnect) && !errors.Is(err, ErrTransportClosed) {
				t.Fatalf("socket err = %v", err)
			}
			if err := s.Emit(testenv.Context(t, 10*time.Second), "echo"); err == nil {
				t.Fatal("emit after disconnect succeeded")
			}
		})
	}
}

func waitDone(t testing.TB, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("not done within 10s")
	}
}

// TestHeartbeat: with these settings the server closes a session that
// does not answer a ping within 750ms (and so does our client without
// pings); ours stays open across many pings.
func TestHeartbeat(t *testing.T) {
	url := startNode(t, "PING_INTERVAL=150", "PING_TIMEOUT=600")
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			t.Parallel()
			c, s := dial(t, url, testOptions(t, tr))
			select {
			case <-c.Done():
				t.Fatalf("session ended: %v", c.Err())
			case <-time.After(2 * time.Second):
			}
			if _, err := s.EmitWithAck(testenv.Context(t, 10*time.Second), "echo", []byte("1")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSlowConsumer(t *testing.T) {
	url := startNode(t)
	opts := testOptions(t, WebSocket)
	opts.EventBuffer = 4
	c, s := dial(t, url, opts)
	// The ack may or may not arrive before the overflow closes the client.
	_, _ = s.EmitWithAck(testenv.Context(t, 10*time.Second), "flood", []byte("100"))
	waitDone(t, c.Done())
	if !errors.Is(c.Err(), ErrSlowConsumer) || !errors.Is(s.Err(), ErrSlowConsumer) {
		t.Fatalf("client %v, socket %v", c.Err(), s.Err())
	}
	// The buffered events are still readable, in order, then the channel ends.
	n := 0
	for ev := range s.Events() {
		if string(ev.Args[0]) != strconv.Itoa(n) {
			t.Fatalf("event %d has arg %s", n, ev.Args[0])
		}
		n++
	}
	if n != 4 {
		t.Fatalf("%d buffered events, want 4", n)
	}
}

func TestOnEventHandler(t *testing.T) {
	url := startNode(t)
	opts := testOptions(t, WebSocket)
	got := make(chan string, 10)
	opts.OnEvent = func(s *Socket, ev Event) {
		got <- s.Namespace() + " " + ev.Name + " " + argsString(ev.Args)
	}
	c, s := dial(t, url, opts)
	if s.Events() != nil {
		t.Fatal("Events channel allocated with a handler")
	}
	if err := s.Emit(testenv.Context(t, 10*time.Second), "echo", []byte(`"h"`)); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g != `/ echo "h"` {
			t.Fatalf("handler got %s", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
	}
	// Close from inside the handler must not deadlock.
	closed := make(chan struct{})
	opts2 := testOptions(t, WebSocket)
	opts2.OnEvent = func(s *Socket, ev Event) {
		_ = s.Client().Close()
		close(closed)
	}
	_, s2 := dial(t, url, opts2)
	if err := s2.Emit(testenv.Context(t, 10*time.Second), "echo", []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitDone(t, closed)
	_ = c
}

func TestAckTimeoutAndClose(t *testing.T) {
	url := startNode(t)
	for _, tr := range []Transport{WebSocket, PollingOnly} {
		t.Run(tr.String(), func(t *testing.T) {
			c, s := dial(t, url, testOptions(t, tr))
			// Nobody answers "silence": the ack times out, the socket lives on.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if _, err := s.EmitWithAck(ctx, "silence"); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v", err)
			}
			if _, err := s.EmitWithAck(testenv.Context(t, 10*time.Second), "echo", []byte("2")); err != nil {
				t.Fatal(err)
			}

			// A pending ack ends with ErrClosed when the client closes.
			pending := make(chan error, 1)
			go func() {
				_, err := s.EmitWithAck(testenv.Context(t, 10*time.Second), "silence")
				pending <- err
			}()
			time.Sleep(50 * time.Millisecond)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-pending:
				if !errors.Is(err, ErrClosed) {
					t.Fatalf("pending ack: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("pending ack not released by Close")
			}
			if !errors.Is(c.Err(), ErrClosed) || !errors.Is(s.Err(), ErrClosed) {
				t.Fatalf("client %v socket %v", c.Err(), s.Err())
			}
			if err := s.Emit(testenv.Context(t, 10*time.Second), "echo"); !errors.Is(err, ErrClosed) {
				t.Fatalf("emit after close: %v", err)
			}
			if _, err := c.Connect(testenv.Context(t, 10*time.Second), "/admin", nil); !errors.Is(err, ErrClosed) {
				t.Fatalf("connect after close: %v", err)
			}
		})
	}
}

func TestConcurrentAcks(t *testing.T) {
	url := startNode(t)
	for _, tr := range []Transport{WebSocket, PollingOnly} {
		t.Run(tr.String(), func(t *testing.T) {
			_, s := dial(t, url, testOptions(t, tr))
			echoConcurrently(t, testenv.Context(t, 10*time.Second), s, 16, 20, func(g, i int) []byte {
				want, _ := json.Marshal(fmt.Sprintf("%d/%d", g, i))
				return want
			})
		})
	}
}

// echoConcurrently has goroutines emit each acked "echo" events at once on s
// and fails on the first reply that does not repeat its argument.
func echoConcurrently(t *testing.T, ctx context.Context, s *Socket, goroutines, each int, arg func(g, i int) []byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				want := arg(g, i)
				reply, err := s.EmitWithAck(ctx, "echo", want)
				if err == nil && argsString(reply.Args) != string(want) {
					err = fmt.Errorf("got %s, want %s", argsString(reply.Args), want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestLargeBinary sends attachments whose polling form (base64) exceeds the
// server's 1 MB maxPayload together: the client must split its POSTs.
func TestLargeBinary(t *testing.T) {
	url := startNode(t)
	for _, tr := range []Transport{WebSocket, PollingOnly} {
		t.Run(tr.String(), func(t *testing.T) {
			_, s := dial(t, url, testOptions(t, tr))
			const size = 400_000
			p := Payload{}
			for i := range 3 {
				p.Args = append(p.Args, Placeholder(i))
				p.Binary = append(p.Binary, bytes.Repeat([]byte{byte(i)}, size))
			}
			reply, err := s.EmitPayloadWithAck(testenv.Context(t, 10*time.Second), "sizes", p)
			if err != nil {
				t.Fatal(err)
			}
			if got := argsString(reply.Args); got != "[400000,400000,400000]" {
				t.Fatalf("sizes = %s", got)
			}
		})
	}
}

func TestCloseCallbacks(t *testing.T) {
	url := startNode(t)
	type ended struct {
		what string
		err  error
	}
	got := make(chan ended, 10)
	opts := testOptions(t, WebSocket)
	opts.OnSocketClose = func(s *Socket, err error) { got <- ended{"socket " + s.Namespace(), err} }
	opts.OnClose = func(c *Client, err error) {
		_ = c.Close() // allowed from the callback
		got <- ended{"client", err}
	}
	c, s := dial(t, url, opts)
	ctx := testenv.Context(t, 10*time.Second)
	expect := func(what string, target error) {
		t.Helper()
		select {
		case e := <-got:
			if e.what != what || !errors.Is(e.err, target) {
				t.Fatalf("callback %s %v, want %s %v", e.what, e.err, what, target)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no callback for %s", what)
		}
	}

	// A refused namespace never was a socket: no callback.
	if _, err := c.Connect(ctx, "/admin", nil); err == nil {
		t.Fatal("connect without auth accepted")
	}
	admin, err := c.Connect(ctx, "/admin", []byte(`{"token":"secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = admin.Close()
	expect("socket /admin", ErrClosed)

	// The server closes the transport: "/" ends, then the client.
	if err := s.Emit(ctx, "kick", []byte("true")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.what != "socket /" {
			t.Fatalf("first callback %s", e.what)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no socket callback")
	}
	expect("client", ErrTransportClosed)
	select {
	case e := <-got:
		t.Fatalf("extra callback %s %v", e.what, e.err)
	case <-time.After(100 * time.Millisecond):
	}
}
