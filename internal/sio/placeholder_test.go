package sio

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A binary packet whose placeholder stands for no attachment is a protocol
// error that closes the client, as the official server closes it ("illegal
// attachments"), before any handler sees the packet: in an event, and in
// an ack to the server's own ask.
func TestBadPlaceholderCloses(t *testing.T) {
	ts := echoServer(t, Config{})
	answers := make(chan error, 1)
	ts.srv.Of("/").On("ask-me", func(s *Socket, _ *Event) {
		p, err := s.EmitAsking("question", nil)
		if err != nil {
			answers <- err
			return
		}
		go func() {
			defer p.Drop()
			ctx, cancel := context.WithTimeout(s.Context(), 10*time.Second)
			defer cancel()
			a, err := p.Wait(ctx)
			if err == nil {
				t.Errorf("the server's ask got the ack %q with %d attachments", a.Args, len(a.Binary))
			}
			answers <- err
		}()
	})

	for _, bad := range []string{
		`{"_placeholder":true,"num":1}`,
		`{"_placeholder":true,"num":-1}`,
		`{"_placeholder":true,"num":"0"}`,
		`{"_placeholder":true}`,
		`{"deep":[{"_placeholder":true,"num":7}]}`,
	} {
		t.Run("event "+bad, func(t *testing.T) {
			c := ts.connect(t)
			c.send(`451-["message",` + bad + `]`)
			c.sendBinary([]byte{1})
			c.waitClosed()
		})
	}

	t.Run("ack", func(t *testing.T) {
		c := ts.connect(t)
		c.send(`42["ask-me"]`)
		q := c.read()
		id, ok := strings.CutSuffix(strings.TrimPrefix(q, "42"), `["question"]`)
		if !ok || id == "" {
			t.Fatalf("got %q, want the question with an ack id", q)
		}
		c.send(`461-` + id + `[{"_placeholder":true,"num":1}]`)
		c.sendBinary([]byte{1})
		c.waitClosed()
		if err := <-answers; err == nil {
			t.Error("the ask was answered")
		}
	})
}
