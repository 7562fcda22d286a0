package sio

import (
	"strconv"
	"testing"

	"github.com/baton-rt/baton/internal/eio"
)

// TestHeldWhileJoiningIsBounded: what is emitted to a socket while its
// CONNECT is still being decided waits for the answer, but no more of it
// than the outbound queue holds: past that, the client is closed as a
// slow consumer at once, as a Send past the queue's bound closes it,
// rather than holding all of it until the answer.
func TestHeldWhileJoiningIsBounded(t *testing.T) {
	const bound = 16
	srv, err := NewServer(Config{Engine: eio.Config{QueuePackets: bound}})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	overflow := make(chan error, 1)
	srv.Of("/").Use(func(s *Socket) error {
		var err error
		for i := 0; i < 4*bound && err == nil; i++ {
			err = s.Emit("greeting", []byte(strconv.Itoa(i)))
		}
		overflow <- err
		<-release // the decision still pending
		return nil
	})
	ts := serve(t, srv)
	defer close(release)
	c := ts.open(t)
	c.send("40")
	if err := <-overflow; err == nil {
		t.Errorf("%d emits held while joining, with a queue of %d: no error", 4*bound, bound)
	}
	c.waitClosed()
}
