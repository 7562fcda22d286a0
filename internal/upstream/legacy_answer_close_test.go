package upstream_test

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// A subscribe the backend acks and then ends the connection at once is
// answered: the reader hands the ack over before it sees the end, so
// the wait, finding both ready, must take the ack rather than report
// the request failed ("connection closed") half the time.
func TestLegacyAnswerThenCloseIsAnswered(t *testing.T) {
	url := scriptedLegacy(t, func(f legacy.Frame) []legacy.Frame {
		if f.Type != legacy.TypeSubscribe {
			return nil
		}
		return []legacy.Frame{{Type: legacy.TypeAck, ID: f.ID, Seq: 1, HasSeq: true}, {Type: "close"}}
	})
	deadline := time.Now().Add(5 * time.Second)
	failed, n := 0, 0
	var first error
	for ; n < 3000 && time.Now().Before(deadline); n++ {
		c := dialScripted(t, url, newRecorder())
		if _, err := c.Subscribe(testenv.Context(t, 10*time.Second), "c", 0, false); err != nil {
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
