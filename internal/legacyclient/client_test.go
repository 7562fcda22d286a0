package legacyclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// fakeServer accepts one WebSocket at a time and hands it to script after
// an optional welcome.
func fakeServer(t *testing.T, welcome bool, script func(ctx context.Context, ws *websocket.Conn)) string {
	t.Helper()
	var handlers testenv.Handlers
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !handlers.Enter() {
			http.Error(w, "closing", http.StatusServiceUnavailable)
			return
		}
		defer handlers.Leave()
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if welcome {
			if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"welcome","session":"fake"}`)); err != nil {
				return
			}
		}
		script(ctx, ws)
	}))
	t.Cleanup(func() { srv.Close(); handlers.CloseAndWait() })
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func readReq(ctx context.Context, ws *websocket.Conn) (legacy.Frame, error) {
	_, b, err := ws.Read(ctx)
	if err != nil {
		return legacy.Frame{}, err
	}
	return legacy.Decode(b)
}

func write(ctx context.Context, ws *websocket.Conn, f legacy.Frame) error {
	return ws.Write(ctx, websocket.MessageText, legacy.Append(nil, f))
}

func dial(t *testing.T, url string, opts Options) *Client {
	t.Helper()
	c, err := Dial(testenv.Context(t, 20*time.Second), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestAnswersMatchedByID has the server answer a batch of concurrent
// publishes in reverse order; each caller must get its own answer.
func TestAnswersMatchedByID(t *testing.T) {
	const n = 16
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		var reqs []legacy.Frame
		for range n {
			f, err := readReq(ctx, ws)
			if err != nil {
				return
			}
			reqs = append(reqs, f)
		}
		for i := len(reqs) - 1; i >= 0; i-- {
			var k uint64
			fmt.Sscan(string(reqs[i].Data), &k)
			if err := write(ctx, ws, legacy.Frame{Type: legacy.TypeAck, ID: reqs[i].ID, Seq: 1000 + k, HasSeq: true}); err != nil {
				return
			}
		}
		_, _, _ = ws.Read(ctx) // until the client closes
	})
	c := dial(t, url, Options{})
	ctx := testenv.Context(t, 20*time.Second)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq, err := c.Publish(ctx, "c", fmt.Appendf(nil, "%d", k))
			if err != nil || seq != uint64(1000+k) {
				t.Errorf("publish %d: seq %d, %v; want %d", k, seq, err, 1000+k)
			}
		}()
	}
	wg.Wait()
	if c.Session() != "fake" {
		t.Fatalf("session %q", c.Session())
	}
}

func TestServerErrorsAndEvents(t *testing.T) {
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		f, err := readReq(ctx, ws)
		if err != nil {
			return
		}
		_ = write(ctx, ws, legacy.Frame{Type: legacy.TypeError, ID: f.ID, Code: legacy.CodeHistoryGone, Message: "gone", Channel: "c"})
		_ = write(ctx, ws, legacy.Frame{Type: legacy.TypeError, Code: legacy.CodeSubscriptionLost, Message: "lost", Channel: "d"})
		_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"cursor","x":1}`))
		_ = write(ctx, ws, legacy.Frame{Type: legacy.TypeAck, ID: 999}) // answers nothing: ignored
		_ = write(ctx, ws, legacy.Frame{Type: legacy.TypeMessage, Channel: "c", Seq: 1, Data: []byte(`{"a" : 1}`)})
		_, _, _ = ws.Read(ctx)
	})
	c := dial(t, url, Options{})
	ctx := testenv.Context(t, 20*time.Second)
	_, err := c.Subscribe(ctx, "c", Since(3))
	var se *ServerError
	if !errors.As(err, &se) || se.Code != legacy.CodeHistoryGone || se.Channel != "c" {
		t.Fatalf("Subscribe: %v, want ServerError history_gone", err)
	}
	ev := <-c.Events()
	if ev.Code != legacy.CodeSubscriptionLost || ev.Channel != "d" {
		t.Fatalf("first event %+v", ev)
	}
	ev = <-c.Events()
	if ev.Type != "cursor" || string(ev.Raw) != `{"type":"cursor","x":1}` {
		t.Fatalf("second event %+v", ev)
	}
	m := <-c.Messages()
	if m.Channel != "c" || m.Seq != 1 || string(m.Data) != `{"a" : 1}` {
		t.Fatalf("message %+v", m)
	}
	if _, err := c.Publish(ctx, "c", []byte(`{bad`)); !errors.Is(err, ErrInvalidData) {
		t.Fatalf("Publish of invalid JSON: %v", err)
	}
}

func TestMessageOverflowEndsConnection(t *testing.T) {
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		for i := range 5 {
			if write(ctx, ws, legacy.Frame{Type: legacy.TypeMessage, Channel: "c", Seq: uint64(i + 1), Data: []byte(`1`)}) != nil {
				return
			}
		}
		_, _, _ = ws.Read(ctx)
	})
	c := dial(t, url, Options{MessageBuffer: 2})
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection did not end on overflow")
	}
	if !errors.Is(c.Err(), ErrOverflow) {
		t.Fatalf("Err = %v, want ErrOverflow", c.Err())
	}
	var seqs []uint64
	for m := range c.Messages() { // the buffered ones stay readable, then it is closed
		seqs = append(seqs, m.Seq)
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("buffered messages %v, want [1 2]", seqs)
	}
	if err := c.Ping(testenv.Context(t, 20*time.Second)); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrOverflow) {
		t.Fatalf("Ping after the end: %v, want ErrClosed wrapping ErrOverflow", err)
	}
}

func TestEventOverflowDrops(t *testing.T) {
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		for range 5 {
			_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"tick"}`))
		}
		f, err := readReq(ctx, ws)
		if err == nil {
			_ = write(ctx, ws, legacy.Frame{Type: legacy.TypePong, ID: f.ID})
		}
		_, _, _ = ws.Read(ctx)
	})
	c := dial(t, url, Options{EventBuffer: 2})
	if err := c.Ping(testenv.Context(t, 20*time.Second)); err != nil { // orders: the ticks came first
		t.Fatal(err)
	}
	if c.DroppedEvents() != 3 || len(c.Events()) != 2 {
		t.Fatalf("dropped %d, buffered %d; want 3 and 2", c.DroppedEvents(), len(c.Events()))
	}
}

func TestCanceledWaitKeepsConnection(t *testing.T) {
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		for {
			f, err := readReq(ctx, ws)
			if err != nil {
				return
			}
			if f.Type == legacy.TypePing { // subscribes are never answered
				_ = write(ctx, ws, legacy.Frame{Type: legacy.TypePong, ID: f.ID})
			}
		}
	})
	c := dial(t, url, Options{})
	ctx, cancel := context.WithTimeout(testenv.Context(t, 20*time.Second), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Subscribe(ctx, "c", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe: %v, want deadline exceeded", err)
	}
	if err := c.Ping(testenv.Context(t, 20*time.Second)); err != nil {
		t.Fatalf("Ping after an abandoned request: %v", err)
	}
}

// A request whose context has already ended sends nothing and leaves the
// connection open. coder/websocket closes the connection when the context
// of a write is done as the write starts, some of the time (its lock picks
// between the context and the lock at random), so one try proves little:
// it takes many.
func TestCanceledContextKeepsConnection(t *testing.T) {
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		for {
			f, err := readReq(ctx, ws)
			if err != nil {
				return
			}
			_ = write(ctx, ws, legacy.Frame{Type: legacy.TypePong, ID: f.ID})
		}
	})
	c := dial(t, url, Options{})
	live := testenv.Context(t, 20*time.Second)
	canceled, cancel := context.WithCancel(live)
	cancel()
	for i := range 100 {
		if err := c.Ping(canceled); !errors.Is(err, context.Canceled) {
			t.Fatalf("try %d: Ping with a canceled context: %v, want context canceled", i, err)
		}
		if err := c.Ping(live); err != nil {
			t.Fatalf("try %d: Ping after a request with a canceled context: %v", i, err)
		}
	}
}

func TestServerCloseFailsPendingRequests(t *testing.T) {
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		if _, err := readReq(ctx, ws); err != nil {
			return
		}
		_ = ws.Close(websocket.StatusGoingAway, legacy.ReasonShutdown)
	})
	c := dial(t, url, Options{})
	_, err := c.Subscribe(testenv.Context(t, 20*time.Second), "c", nil)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe: %v, want ErrClosed", err)
	}
	<-c.Done()
	if websocket.CloseStatus(c.Err()) != websocket.StatusGoingAway {
		t.Fatalf("Err = %v, want close 1001", c.Err())
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after the server closed: %v", err)
	}
}

func TestDialProtocolErrors(t *testing.T) {
	noWelcome := fakeServer(t, false, func(ctx context.Context, ws *websocket.Conn) {
		_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"pong","id":1}`))
		_, _, _ = ws.Read(ctx)
	})
	if _, err := Dial(testenv.Context(t, 20*time.Second), noWelcome, Options{}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Dial without welcome: %v, want ErrProtocol", err)
	}
	garbage := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":`))
		_, _, _ = ws.Read(ctx)
	})
	c := dial(t, garbage, Options{})
	<-c.Done()
	if !errors.Is(c.Err(), ErrProtocol) || !errors.Is(c.Err(), legacy.ErrMalformed) {
		t.Fatalf("Err = %v, want ErrProtocol wrapping ErrMalformed", c.Err())
	}
}

func TestCloseIsClean(t *testing.T) {
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		_, _, _ = ws.Read(ctx)
	})
	c, err := Dial(testenv.Context(t, 20*time.Second), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("Err after Close = %v, want nil", c.Err())
	}
	if err := c.Ping(testenv.Context(t, 20*time.Second)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
