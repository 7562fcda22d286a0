package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// scriptedLegacy is a legacy backend that answers each frame with what
// answer returns, written back to back (nil: no answer; a frame of type
// "close": end the connection).
func scriptedLegacy(t *testing.T, answer func(f legacy.Frame) []legacy.Frame) string {
	t.Helper()
	return scriptedLegacyRaw(t, func(f legacy.Frame) []string {
		var out []string
		for _, a := range answer(f) {
			if a.Type == "close" {
				out = append(out, "close")
				continue
			}
			out = append(out, string(legacy.Append(nil, a)))
		}
		return out
	})
}

// orderLog is a Handler that logs messages and flushes, beside what the
// test adds, in the order they happen.
type orderLog struct {
	mu  sync.Mutex
	log []string
}

func (l *orderLog) add(s string) {
	l.mu.Lock()
	l.log = append(l.log, s)
	l.mu.Unlock()
}

func (l *orderLog) HandleEvent(ev upstream.Event) { l.add("message " + string(ev.Data)) }
func (l *orderLog) HandleClose(error)             {}
func (l *orderLog) Flush()                        { l.add("flush") }

// lines is the log without repeated flushes (the reader flushes once per
// read, and the frames of one answer may come in one read or two).
func (l *orderLog) lines() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.log {
		if s == "flush" && len(out) > 0 && out[len(out)-1] == "flush" {
			continue
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func dialScripted(t *testing.T, url string, h upstream.Handler) upstream.Conn {
	t.Helper()
	return dialScriptedWith(t, upstream.Options{URL: url}, h)
}

func dialScriptedWith(t *testing.T, o upstream.Options, h upstream.Handler) upstream.Conn {
	t.Helper()
	c, err := (&upstream.LegacyDialer{Options: o}).Dial(testenv.Context(t, 10*time.Second), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// PublishAsync returns once the request is written; the answer reaches
// reply on the reading goroutine, ahead of the frames that follow it, and
// a Flush follows: what lets the edge write a client's ack together with
// the messages read with it.
func TestLegacyPublishAsyncRepliesOnTheReader(t *testing.T) {
	release := make(chan struct{})
	url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
		<-release
		if f.Channel == "refused" {
			return []legacy.Frame{
				{Type: legacy.TypeError, ID: f.ID, Code: legacy.CodeMessageTooLarge, Message: "no", Channel: f.Channel},
				{Type: legacy.TypeMessage, Channel: "c", Seq: 2, Data: []byte(`"after the refusal"`)},
			}
		}
		return []legacy.Frame{
			{Type: legacy.TypeAck, ID: f.ID, Seq: 1, HasSeq: true},
			{Type: legacy.TypeMessage, Channel: f.Channel, Seq: 1, Data: f.Data},
		}
	})
	l := &orderLog{}
	checkPublishAsyncOnReader(t, dialScripted(t, url, l), l, release,
		`ack 1, message "x", refused, message "after the refusal", flush`)
}

// checkPublishAsyncOnReader publishes "x" on channel "c", which c's
// backend acks with seq 1 and follows with a message, and "y" on
// "refused", which it refuses with message_too_large, neither answered
// before release is closed; the log, flushes between entries left out,
// must then read want.
func checkPublishAsyncOnReader(t *testing.T, c upstream.Conn, l *orderLog, release chan struct{}, want string) {
	t.Helper()
	ctx := testenv.Context(t, 10*time.Second)
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
		if !upstream.IsCode(err, legacy.CodeMessageTooLarge) {
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
	testenv.Eventually(t, "every message and a flush", 5*time.Second, func() bool {
		return strings.Count(l.lines(), "message") == strings.Count(want, "message") && strings.HasSuffix(l.lines(), "flush")
	})
	if got := strings.ReplaceAll(l.lines(), "flush, ", ""); got != want {
		t.Fatalf("order on the reader: %s, want %s", got, want)
	}
}

// A publish with no answer in time, by ctx's deadline or by the
// connection's request timeout, gets a deadline error, once, followed by
// a Flush; an answer that comes later is dropped.
func TestLegacyPublishAsyncTimeout(t *testing.T) {
	for _, byCtx := range []bool{true, false} {
		t.Run(fmt.Sprintf("by ctx %v", byCtx), func(t *testing.T) {
			late := make(chan legacy.Frame, 1)
			url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
				select {
				case ack := <-late: // the answer owed to the publish before
					return []legacy.Frame{ack, {Type: legacy.TypeAck, ID: f.ID, Seq: 9, HasSeq: true}}
				default:
					late <- legacy.Frame{Type: legacy.TypeAck, ID: f.ID, Seq: 8, HasSeq: true}
					return nil
				}
			})
			l := &orderLog{}
			checkPublishAsyncTimeout(t, dialScriptedWith(t, timeoutOptions(url, byCtx), l), l, byCtx)
		})
	}
}

// timeoutOptions are a dialer's options for checkPublishAsyncTimeout:
// the 50 ms it gives the first publish come from its ctx (byCtx) or from
// the connection's RequestTimeout.
func timeoutOptions(url string, byCtx bool) upstream.Options {
	o := upstream.Options{URL: url}
	if !byCtx {
		o.RequestTimeout = 50 * time.Millisecond
	}
	return o
}

// checkPublishAsyncTimeout publishes twice on c, whose backend answers
// the first publish late, with seq 8, just before the second, with seq
// 9: the first, given 50 ms (by its ctx, or by c's RequestTimeout, see
// timeoutOptions), gets a deadline error once, followed by a Flush; the
// late answer is dropped.
func checkPublishAsyncTimeout(t *testing.T, c upstream.Conn, l *orderLog, byCtx bool) {
	t.Helper()
	ctx := testenv.Context(t, 10*time.Second)
	var mu sync.Mutex
	var replies []string
	reply := func(seq uint64, err error) {
		if errors.Is(err, context.DeadlineExceeded) {
			err = context.DeadlineExceeded // whatever wraps it
		}
		mu.Lock()
		replies = append(replies, fmt.Sprint(seq, " ", err))
		mu.Unlock()
		l.add("reply")
	}
	short := ctx
	if byCtx {
		var cancel context.CancelFunc
		short, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
	}
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
func TestLegacyPublishAsyncConnectionEnd(t *testing.T) {
	url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
		if f.Channel == "bye" {
			return []legacy.Frame{{Type: "close"}}
		}
		return nil // never answers
	})
	l := &orderLog{}
	checkPublishAsyncEnd(t, dialScripted(t, url, l), l)
}

// checkPublishAsyncEnd publishes on channels "a", which c's backend never
// answers, and "bye", which makes it end the connection: both get
// ErrClosed, followed by a Flush, and a publish after the end is refused
// at once.
func checkPublishAsyncEnd(t *testing.T, c upstream.Conn, l *orderLog) {
	t.Helper()
	ctx := testenv.Context(t, 10*time.Second)
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

// The reader lends each frame's bytes from its read buffer (see
// Handler.HandleEvent) and reuses the buffer for the frames after it:
// an answer handed to a waiting Request must be its own copy.
func TestLegacyRequestAnswerOutlivesTheReadBuffer(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Second)
	const after = 40 // messages after the answer: far more than the 512-byte read buffer
	url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
		out := []legacy.Frame{{Type: "custom_reply", Raw: fmt.Appendf(nil, `{"type":"custom_reply","id":%d,"text":"the answer"}`, f.ID)}}
		for i := range after {
			out = append(out, legacy.Frame{Type: legacy.TypeMessage, Channel: "c", Seq: uint64(i + 1), Data: []byte(`"filling the read buffer again"`)})
		}
		return out
	})
	r := newRecorder()
	c := dialScripted(t, url, r)
	reply, err := c.Request(ctx, "custom", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "the messages after the answer", func(events []upstream.Event, _ bool) bool {
		return len(messages(events, "c")) == after
	})
	if len(reply) != 1 || !strings.Contains(string(reply[0]), `"text":"the answer"`) {
		t.Fatalf("answer reads %q once the reader has read on", reply)
	}
	for i, ev := range messages(r.events, "c") {
		if ev.Seq != uint64(i+1) || string(ev.Data) != `"filling the read buffer again"` {
			t.Fatalf("message %d: seq %d data %s", i, ev.Seq, ev.Data)
		}
	}
}
