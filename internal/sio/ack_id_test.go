package sio

import (
	"context"
	"testing"
	"time"
)

// An ACK packet without an id answers nothing (Node: "bad ack"); it must
// not take away the waiter of ack id 0, whose real answer then arrives.
func TestAckWithoutIDLeavesThePendingAck(t *testing.T) {
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
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
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
	c.send(`43["stray"]`) // an ack without id
	c.send(`430[42]`)     // the real answer to id 0
	r := <-results
	if r.err != nil || len(r.ack.Args) != 1 || string(r.ack.Args[0]) != "42" {
		t.Errorf("ack for id 0 after a stray id-less ack: %+v", r)
	}
}
