package sioclient

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
)

// An emit the server acks and then ends the connection at once is
// answered: the reader hands the ack over before it sees the end, so
// EmitWithAck, finding both ready, must return the ack rather than
// ErrClosed half the time.
func TestAckThenCloseIsAnswered(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, fakeOpen)
		if _, b, err := c.Read(ctx); err != nil || string(b) != "40" {
			return
		}
		write(ctx, c, `40{"sid":"a"}`)
		_, b, err := c.Read(ctx)
		if err != nil || string(b) != `420["x"]` {
			return
		}
		write(ctx, c, `430[1]`) // then the script returns: the connection ends
	})
	deadline := time.Now().Add(5 * time.Second)
	failed, n := 0, 0
	var first error
	for ; n < 3000 && time.Now().Before(deadline); n++ {
		c := dialFake(t, url)
		s, err := c.Connect(testenv.Context(t, 10*time.Second), "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.EmitWithAck(testenv.Context(t, 10*time.Second), "x"); err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
		_ = c.Close()
	}
	if failed > 0 {
		t.Fatalf("%d of %d acked emits reported failed, the first as: %v", failed, n, first)
	}
}
