package eio

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// isTestAnswer makes a message starting with "ack" an answer.
func isTestAnswer(p engineio.Packet) bool {
	return p.Type == engineio.Message && bytes.HasPrefix(p.Data, []byte("ack"))
}

func message(s string) engineio.Packet {
	return engineio.Packet{Type: engineio.Message, Data: []byte(s)}
}

// answerBounds are queueBounds with how many 5-byte answers fit past the
// full queue: answerSlack groups when the bound is by count; when it is by
// bytes (10), as many bytes again, so two.
var answerBounds = []struct {
	name  string
	cfg   Config
	slack int
}{
	{"packets", Config{PingInterval: time.Minute, QueuePackets: 2}, answerSlack},
	{"bytes", Config{PingInterval: time.Minute, QueueBytes: 10}, 2},
}

// TestAnswersPastFullQueue: with SetAnswers, an answer that does not fit
// the full queue is queued past the bound and the session stays open (not
// a slow consumer); the client gets everything in order; the answer does
// not make room for anything else; and a group that is not an answer
// still closes the session when it does not fit.
func TestAnswersPastFullQueue(t *testing.T) {
	for _, tc := range answerBounds {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg)
			sid := ts.openPolling(t)
			c := ts.srv.lookup(sid)
			c.SetAnswers(isTestAnswer)
			for _, s := range []string{"abcd", "efgh"} {
				if err := c.Offer(message(s)); err != nil {
					t.Fatalf("offer %q: %v", s, err)
				}
			}
			if err := c.Send(message("ack1")); err != nil {
				t.Fatalf("answer on a full queue: %v", err)
			}
			// A frame is an answer too when its message is.
			if err := c.SendFrame([]byte("4ack2")); err != nil {
				t.Fatalf("answer frame on a full queue: %v", err)
			}
			if err := c.Offer(message("ijkl")); !errors.Is(err, ErrQueueFull) {
				t.Fatalf("offer past the answers: %v, want ErrQueueFull", err)
			}
			if err := c.Err(); err != nil {
				t.Fatalf("session closed by an answer: %v", err)
			}
			if n := ts.srv.Stats().SlowConsumers; n != 0 {
				t.Fatalf("SlowConsumers = %d after answers within the slack, want 0", n)
			}
			if status, body, _ := do(t, "GET", ts.pollURL(sid), ""); status != 200 || body != "4abcd\x1e4efgh\x1e4ack1\x1e4ack2" {
				t.Fatalf("poll: %d %q, want the messages then the answers", status, body)
			}

			// The poll emptied the queue; past the bound anything that is
			// not an answer still closes the session.
			for _, s := range []string{"mnop", "qrst"} {
				if err := c.Offer(message(s)); err != nil {
					t.Fatalf("offer %q after the poll: %v", s, err)
				}
			}
			if err := c.Send(message("uvwx")); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("send of a non-answer on a full queue: %v, want ErrSlowConsumer", err)
			}
			if err := ts.closeReason(t); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("close reason %v, want ErrSlowConsumer", err)
			}
		})
	}
}

// TestAnswerSlackIsBounded: answers go past the full queue's bound by the
// slack and no further; the next one closes the session as a slow
// consumer, counted, and later answers find it closed.
func TestAnswerSlackIsBounded(t *testing.T) {
	for _, tc := range answerBounds {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg)
			c := ts.srv.lookup(ts.openPolling(t))
			c.SetAnswers(isTestAnswer)
			for _, s := range []string{"abcd", "efgh"} {
				if err := c.Offer(message(s)); err != nil {
					t.Fatalf("offer %q: %v", s, err)
				}
			}
			for i := range tc.slack {
				if err := c.Send(message(fmt.Sprintf("ack%d", i%10))); err != nil {
					t.Fatalf("answer %d of a slack of %d: %v", i+1, tc.slack, err)
				}
			}
			if err := c.Send(message("ack!")); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("answer past the slack: %v, want ErrSlowConsumer", err)
			}
			if err := ts.closeReason(t); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("close reason %v, want ErrSlowConsumer", err)
			}
			if n := ts.srv.Stats().SlowConsumers; n != 1 {
				t.Fatalf("SlowConsumers = %d, want 1", n)
			}
			if err := c.Send(message("ack?")); !errors.Is(err, ErrClosed) {
				t.Fatalf("answer on a closed session: %v, want ErrClosed", err)
			}
		})
	}
}
