package upstream_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
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
	return backendtest.ServeSIO(t, srv)
}

func dialSocketIO(t *testing.T, url string, h upstream.Handler) upstream.Conn {
	t.Helper()
	return dialSocketIOWith(t, upstream.Options{URL: url}, h)
}

func dialSocketIOWith(t *testing.T, o upstream.Options, h upstream.Handler) upstream.Conn {
	t.Helper()
	c, err := (&upstream.SocketIODialer{Options: o}).Dial(testenv.Context(t, 10*time.Second), h)
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
	checkPublishAsyncOnReader(t, c, l, release, `ack 1, message "x", refused, flush`)
	err := c.PublishAsync(testenv.Context(t, 10*time.Second), "c", []byte(`{`), func(uint64, error) { t.Error("reply to a request not sent") })
	if !errors.Is(err, upstream.ErrInvalidArgs) {
		t.Fatalf("publish of invalid JSON: %v, want ErrInvalidArgs", err)
	}
}

// A publish with no answer in time, by ctx's deadline or by the
// connection's request timeout, gets a deadline error, once, followed by
// a Flush; an answer that comes later is dropped.
func TestSocketIOPublishAsyncTimeout(t *testing.T) {
	for _, byCtx := range []bool{true, false} {
		t.Run(fmt.Sprintf("by ctx %v", byCtx), func(t *testing.T) {
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
			checkPublishAsyncTimeout(t, dialSocketIOWith(t, timeoutOptions(url, byCtx), l), l, byCtx)
		})
	}
}

// The end of the connection replies to every publish still waiting, with
// ErrClosed, and flushes; a publish after the end is refused at once.
func TestSocketIOPublishAsyncConnectionEnd(t *testing.T) {
	url := scriptedSocketIO(t, func(s *sio.Socket, e *sio.Event) {
		if channelOf(e) == "bye" {
			s.Conn().Close()
		}
		// otherwise never answers
	})
	l := &orderLog{}
	checkPublishAsyncEnd(t, dialSocketIO(t, url, l), l)
}
