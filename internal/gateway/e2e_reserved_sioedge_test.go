package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// expectSIOAfter reads the socket's next event, which must be the
// legacy backend's "after" frame.
func expectSIOAfter(t *testing.T, s *sioclient.Socket, ctx context.Context) {
	t.Helper()
	select {
	case ev := <-s.Events():
		if ev.Name != "after" || len(ev.Args) != 1 || string(ev.Args[0]) != `{"type":"after","n":1}` {
			t.Fatalf("got event %q %q, want the backend's \"after\"", ev.Name, ev.Args)
		}
	case <-s.Done():
		t.Fatalf("socket closed: %v", s.Err())
	case <-ctx.Done():
		t.Fatal("no \"after\" event")
	}
}

// A legacy backend's frame whose type is one of Socket.IO's reserved
// event names cannot be emitted to a Socket.IO client: it is dropped and
// counted (messages.rejected), and, as an event not carried to a legacy
// client is, logged with its name at most once in a while. It was dropped
// without a log line.
func TestE2ESocketIOReservedNamedFrameFromLegacyBackend(t *testing.T) {
	url := renamedLegacyBackend(t, `{"type":"disconnect","x":1}`)
	e, f, logs := frontOn(t, &upstream.LegacyDialer{Options: upstream.Options{URL: url, Mapping: upstream.Mapping{Message: "msg"}}})
	ctx := testenv.Context(t, 20*time.Second)
	s := f.sioSocket(t, ctx, "reserved-sio")
	for range 2 {
		if err := s.Emit(ctx, "go"); err != nil {
			t.Fatal(err)
		}
		expectSIOAfter(t, s, ctx)
	}
	if got := e.g.Status().Messages.Rejected; got != 2 {
		t.Errorf("messages.rejected = %d, want 2", got)
	}
	if got := strings.Count(logs.String(), "event=disconnect "); got != 1 {
		t.Errorf("%d log lines name the event, want 1:\n%s", got, logs.String())
	}
}

// A Socket.IO backend whose mapping renames its message event ("msg")
// may emit a custom event literally named "message". Passed on to a
// Socket.IO client as it is, it reached the client as a "message" event,
// which an official-client-style reader takes for a channel message that
// the session's seq rule never saw. It is not carried: dropped, counted
// (messages.rejected) and logged, as it is for a legacy client.
func TestE2EMessageNamedEventFromRenamedSocketIOBackend(t *testing.T) {
	m := upstream.Mapping{Subscribe: "sub", Unsubscribe: "unsub", Publish: "pub", Message: "msg"}
	url := namedEventBackend(t, m.Subscribe, "message", []byte(`{"channel":"c","seq":7,"data":"x"}`))
	e, f, logs := frontOn(t, &upstream.SocketIODialer{Options: upstream.Options{URL: url, Mapping: m}})
	ctx := testenv.Context(t, 20*time.Second)
	s := f.sioSocket(t, ctx, "message-sio")
	if err := s.Subscribe(ctx, "c", nil); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	for range 2 {
		if err := s.Emit(ctx, "go"); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-s.Events():
			if ev.Name != "after" || len(ev.Args) != 1 || string(ev.Args[0]) != `{"n":1}` {
				t.Fatalf("got event %q %q, want the backend's \"after\"", ev.Name, ev.Args)
			}
		case <-s.Done():
			t.Fatalf("socket closed: %v", s.Err())
		case <-ctx.Done():
			t.Fatal("no \"after\" event")
		}
	}
	if got := e.g.Status().Messages.Rejected; got != 2 {
		t.Errorf("messages.rejected = %d, want 2", got)
	}
	if got := strings.Count(logs.String(), "event=message "); got != 1 {
		t.Errorf("%d log lines name the event, want 1:\n%s", got, logs.String())
	}
}
