package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// scriptedSocketIO is a Socket.IO backend whose publish handler is
// answer, on loopback; it returns the dialer's URL.
func scriptedSocketIO(t *testing.T, answer func(s *sio.Socket, e *sio.Event)) string {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").On("publish", answer)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return hs.URL + "/socket.io/"
}

func dialSocketIO(t *testing.T, url string, h upstream.Handler) upstream.Conn {
	t.Helper()
	c, err := (&upstream.SocketIODialer{Options: upstream.Options{URL: url}}).Dial(testenv.Context(t, 10*time.Second), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// channelOf reads the channel of a publish event's argument.
func channelOf(e *sio.Event) string {
	if len(e.Args) == 0 {
		return ""
	}
	_, rest, _ := strings.Cut(string(e.Args[0]), `"channel":"`)
	ch, _, _ := strings.Cut(rest, `"`)
	return ch
}

// As with the legacy driver, PublishAsync returns once the request is
// written, and the answer reaches reply on the reading goroutine, ahead
// of the events read after it, followed by a Flush.
func TestSocketIOPublishAsyncRepliesOnTheReader(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Second)
	release := make(chan struct{})
	url := scriptedSocketIO(t, func(s *sio.Socket, e *sio.Event) {
		<-release
		if channelOf(e) == "refused" {
			_ = e.Ack([]byte(`{"error":"message_too_large: no"}`))
			return
		}
		_ = e.Ack([]byte(`{"ok":true,"seq":1}`))
		_ = s.Emit("message", []byte(`{"channel":"c","seq":1,"data":"x"}`))
	})
	l := &orderLog{}
	c := dialSocketIO(t, url, l)

	replied := make(chan struct{}, 2)
	err := c.PublishAsync(ctx, "c", []byte(`"x"`), func(seq uint64, err error) {
		if err != nil {
			t.Errorf("ack handed over as %v", err)
		}
		l.add(fmt.Sprintf("ack %d", seq))
		replied <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.lines(); strings.Contains(got, "ack") {
		t.Fatalf("replied before the backend answered: %s", got)
	}
	err = c.PublishAsync(ctx, "refused", []byte(`"y"`), func(seq uint64, err error) {
		if !upstream.IsCode(err, "message_too_large") {
			t.Errorf("refusal handed over as %v", err)
		}
		l.add("refused")
		replied <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	<-replied
	<-replied
	testenv.Eventually(t, "the message and a flush", 5*time.Second, func() bool {
		return strings.Contains(l.lines(), "message") && strings.HasSuffix(l.lines(), "flush")
	})
	got := strings.ReplaceAll(l.lines(), "flush, ", "")
	if want := `ack 1, message "x", refused, flush`; got != want {
		t.Fatalf("order on the reader: %s, want %s", got, want)
	}
	if err := c.PublishAsync(ctx, "c", []byte(`{`), func(uint64, error) { t.Error("reply to a request not sent") }); !errors.Is(err, upstream.ErrInvalidArgs) {
		t.Fatalf("publish of invalid JSON: %v, want ErrInvalidArgs", err)
	}
}

// A publish with no answer in time gets ctx's error, once, followed by a
// Flush; an answer that comes later is dropped.
func TestSocketIOPublishAsyncTimeout(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Second)
	var first *sio.Event
	url := scriptedSocketIO(t, func(_ *sio.Socket, e *sio.Event) {
		if first == nil { // handlers of one connection never run at once
			first = e
			return
		}
		_ = first.Ack([]byte(`{"ok":true,"seq":8}`)) // late
		_ = e.Ack([]byte(`{"ok":true,"seq":9}`))
	})
	l := &orderLog{}
	c := dialSocketIO(t, url, l)

	var mu sync.Mutex
	var replies []string
	reply := func(seq uint64, err error) {
		mu.Lock()
		replies = append(replies, fmt.Sprint(seq, " ", err))
		mu.Unlock()
		l.add("reply")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.PublishAsync(short, "c", []byte(`1`), reply); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the timeout's reply and flush", 5*time.Second, func() bool { return strings.HasSuffix(l.lines(), "reply, flush") })
	if err := c.PublishAsync(ctx, "c", []byte(`2`), reply); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the second reply", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(replies) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"0 " + context.DeadlineExceeded.Error(), "9 <nil>"}; fmt.Sprint(replies) != fmt.Sprint(want) {
		t.Fatalf("replies %q, want %q (the late seq 8 dropped)", replies, want)
	}
}

// The end of the connection replies to every publish still waiting, with
// ErrClosed, and flushes; a publish after the end is refused at once.
func TestSocketIOPublishAsyncConnectionEnd(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Second)
	url := scriptedSocketIO(t, func(s *sio.Socket, e *sio.Event) {
		if channelOf(e) == "bye" {
			s.Conn().Close()
		}
		// otherwise never answers
	})
	l := &orderLog{}
	c := dialSocketIO(t, url, l)
	errs := make(chan error, 2)
	for _, ch := range []string{"a", "bye"} {
		if err := c.PublishAsync(ctx, ch, []byte(`1`), func(_ uint64, err error) { errs <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, upstream.ErrClosed) {
			t.Fatalf("reply at the end: %v, want ErrClosed", err)
		}
	}
	testenv.Eventually(t, "a flush after the replies", 5*time.Second, func() bool { return strings.HasSuffix(l.lines(), "flush") })
	<-c.Done()
	err := c.PublishAsync(ctx, "a", []byte(`1`), func(uint64, error) { t.Error("reply after the end") })
	if !errors.Is(err, upstream.ErrClosed) {
		t.Fatalf("publish after the end: %v, want ErrClosed", err)
	}
}
