package redisbroker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestFailedSubscribeDropsItsBarrier: a Subscribe whose SUBSCRIBE or PING
// could not be sent leaves no barrier behind (its reply will never come),
// so failed subscribes hold no memory until some later reconnect, and the
// channel can be subscribed to afterwards.
func TestFailedSubscribeDropsItsBarrier(t *testing.T) {
	b, name := namedBroker(t, uniquePrefix(), redisbroker.Options{})
	ctx := testenv.Context(t, 20*time.Second)
	// New's PING made one connection; the second is the reader's pub/sub
	// connection, dialed once the reader is past the point where it picks
	// the connection to read: it keeps reading that one.
	for i := 0; namedClients(t, name) < 2; i++ {
		if i == 500 {
			t.Fatal("the reader's connection did not show up in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	restore := b.BreakPubSub()
	for range 3 {
		if s, err := b.Subscribe(ctx, "broken"); err == nil {
			s.Close()
			t.Fatal("Subscribe succeeded on a broken pub/sub connection")
		}
	}
	restore()
	if n := b.Barriers(); n != 0 {
		t.Fatalf("%d barriers left after the failed subscribes, want 0", n)
	}
	s, err := b.Subscribe(ctx, "broken")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := publishN(t, ctx, b, "broken", 1)[0]
	checkSeqs(t, recv(t, ctx, s, 1), m.Seq, m.Epoch)
	if st := b.Stats(); st.Reconnects != 0 || st.Channels != 1 {
		t.Fatalf("Stats() = %+v, want no reconnect and one channel", st)
	}
}

// namedClients counts the connections whose client name is name.
func namedClients(t testing.TB, name string) int {
	t.Helper()
	list, err := rawClient(t).ClientList(testenv.Context(t, 20*time.Second)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(list, " name="+name+" ")
}
