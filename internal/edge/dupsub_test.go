package edge_test

import (
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/edge"
)

// A client already subscribed to a channel subscribes to it again (a
// retry, say) while the session's operations are held, as a move holds
// them. The edge holds the channel's messages for the pending subscribe,
// which then fails with already_subscribed: the messages held are the
// live subscription's and reach the client after the error, none lost.
func TestDuplicateSubscribeKeepsTheChannelsMessages(t *testing.T) {
	_, g, addr := startEdgeWith(t, edge.Options{DrainPeriod: time.Millisecond})
	base := "ws://" + addr + edge.LegacyPath
	ctx, sub := dialLegacy(t, base+"?user=sub")
	_, pub := dialLegacy(t, base+"?user=pub")
	write := func(c *websocket.Conn, s string) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write(sub, `{"type":"subscribe","id":1,"channel":"c"}`)
	if f := read(ctx, t, sub); f.Type != "ack" || f.ID != 1 {
		t.Fatalf("subscribe answer %+v", f)
	}
	var found bool
	for _, s := range g.Sessions() {
		if s.User() != "sub" {
			continue
		}
		found = true
		if err := s.LockOps(ctx); err != nil { // what a move holds
			t.Fatal(err)
		}
		// The duplicate subscribe waits for the lock.
		write(sub, `{"type":"subscribe","id":2,"channel":"c"}`)
		time.Sleep(100 * time.Millisecond)
		// Messages on the channel the client holds.
		for i := 1; i <= 3; i++ {
			write(pub, `{"type":"publish","id":`+string(rune('0'+i))+`,"channel":"c","data":1}`)
			if f := read(ctx, t, pub); f.Type != "ack" {
				t.Fatalf("publish answer %+v", f)
			}
		}
		time.Sleep(100 * time.Millisecond)
		s.UnlockOps() // the move is over
	}
	if !found {
		t.Fatal("no session of user sub")
	}
	write(pub, `{"type":"publish","id":9,"channel":"c","data":2}`)
	var seqs []uint64
	for len(seqs) == 0 || seqs[len(seqs)-1] < 4 {
		f := read(ctx, t, sub)
		switch f.Type {
		case "message":
			seqs = append(seqs, f.Seq)
		case "error":
			t.Logf("duplicate subscribe answered: %+v", f)
		default:
			t.Logf("frame %+v", f)
		}
	}
	if len(seqs) != 4 {
		t.Fatalf("subscriber got seqs %v, want [1 2 3 4]: messages of a held channel were dropped", seqs)
	}
}
