package legacyclient

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// A subscribe the server acks and then ends the connection at once is
// answered: the reader hands the ack over before it sees the end, so
// the wait, finding both ready, must take the ack rather than ErrClosed.
func TestAnswerThenCloseIsAnswered(t *testing.T) {
	url := fakeServer(t, true, func(ctx context.Context, ws *websocket.Conn) {
		f, err := readReq(ctx, ws)
		if err != nil {
			return
		}
		_ = write(ctx, ws, legacy.Frame{Type: legacy.TypeAck, ID: f.ID, Seq: 1, HasSeq: true})
	})
	deadline := time.Now().Add(5 * time.Second)
	failed, n := 0, 0
	var first error
	for ; n < 3000 && time.Now().Before(deadline); n++ {
		c := dial(t, url, Options{})
		if _, err := c.Subscribe(testenv.Context(t, 20*time.Second), "c", nil); err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
		_ = c.Close()
	}
	if failed > 0 {
		t.Fatalf("%d of %d acked subscribes reported failed, the first as: %v", failed, n, first)
	}
}
