package sioclient

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// TestAckFunc: EmitWithAckFunc hands the ack to its callback once, with
// the ack's arguments, ctx's error when it ends first, or ErrClosed when
// the client closes; after the close it refuses at once.
func TestAckFunc(t *testing.T) {
	url := startNode(t)
	for _, tr := range []Transport{WebSocket, PollingOnly} {
		t.Run(tr.String(), func(t *testing.T) {
			c, s := dial(t, url, testOptions(t, tr))
			type answer struct {
				args string
				err  error
			}
			answers := make(chan answer, 4)
			then := func(p Payload, err error) { answers <- answer{argsString(p.Args), err} }
			next := func() answer {
				t.Helper()
				select {
				case a := <-answers:
					return a
				case <-time.After(10 * time.Second):
					t.Fatal("no callback")
					return answer{}
				}
			}
			if err := s.EmitWithAckFunc(testenv.Context(t, 10*time.Second), "echo", then, []byte(`{"a":1}`), []byte(`"x"`)); err != nil {
				t.Fatal(err)
			}
			if a := next(); a.err != nil || a.args != `{"a":1},"x"` {
				t.Fatalf("echo: %+v", a)
			}
			short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if err := s.EmitWithAckFunc(short, "silence", then); err != nil {
				t.Fatal(err)
			}
			if a := next(); !errors.Is(a.err, context.DeadlineExceeded) {
				t.Fatalf("silence with a deadline: %+v", a)
			}
			if err := s.EmitWithAckFunc(testenv.Context(t, 10*time.Second), "silence", then); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if a := next(); !errors.Is(a.err, ErrClosed) {
				t.Fatalf("pending at the close: %+v", a)
			}
			if err := s.EmitWithAckFunc(testenv.Context(t, 10*time.Second), "echo", then); !errors.Is(err, ErrClosed) {
				t.Fatalf("after the close: %v", err)
			}
			select {
			case a := <-answers:
				t.Fatalf("a callback too many: %+v", a)
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

// TestAckFuncAckTimeout: with Options.AckTimeout, an EmitWithAckFunc
// whose ctx has no deadline is given up once, after the timeout, and a
// later answer on the same socket still reaches its own callback.
func TestAckFuncAckTimeout(t *testing.T) {
	url := startNode(t)
	o := testOptions(t, WebSocket)
	o.AckTimeout = 100 * time.Millisecond
	_, s := dial(t, url, o)
	answers := make(chan error, 4)
	then := func(_ Payload, err error) { answers <- err }
	start := time.Now()
	if err := s.EmitWithAckFunc(testenv.Context(t, 10*time.Second), "silence", then); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-answers:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("silence: %v, want a deadline error", err)
		}
		if waited := time.Since(start); waited < o.AckTimeout {
			t.Fatalf("given up after %s, before the %s timeout", waited, o.AckTimeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback")
	}
	if err := s.EmitWithAckFunc(testenv.Context(t, 10*time.Second), "echo", then, []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if err := <-answers; err != nil {
		t.Fatalf("echo after a timeout: %v", err)
	}
	select {
	case err := <-answers:
		t.Fatalf("a callback too many: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}
