package gateway_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// binaryBackend is a Socket.IO backend whose answers carry binary
// attachments: "bin-emit" is answered with the event "bin" (an attachment
// and a string), "bin-ack" with an ack holding an attachment.
func binaryBackend(t *testing.T) string {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	n := srv.Of("/")
	n.On("bin-emit", func(s *sio.Socket, _ *sio.Event) {
		_ = s.EmitBinary("bin", [][]byte{{9, 8, 7}}, sioclient.Placeholder(0), []byte(`"x"`))
	})
	n.On("bin-ack", func(_ *sio.Socket, e *sio.Event) {
		_ = e.AckBinary([][]byte{{1, 2, 3}}, sioclient.Placeholder(0))
	})
	return backendtest.ServeSIO(t, srv)
}

// frontOnSIOBackend is a gateway at weight 100 whose green is the
// Socket.IO backend at url, served to clients.
func frontOnSIOBackend(t *testing.T, url string) *front {
	t.Helper()
	e := setupWrapped(t, router.Full, nil, func(upstream.Dialer) upstream.Dialer {
		return &upstream.SocketIODialer{Options: upstream.Options{URL: url}}
	})
	return startFront(t, e, edge.Options{})
}

// sioSocket connects a Go Socket.IO client to f's edge as user, on "/",
// until the test ends.
func (f *front) sioSocket(t *testing.T, ctx context.Context, user string) *sioclient.Socket {
	t.Helper()
	// Room for the 70 events of TestE2EBackendAsksTheClient, which come
	// at once.
	cl, err := sioclient.Dial(ctx, "http://"+f.edgeAddr+"/socket.io/?user="+user, sioclient.Options{EventBuffer: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	s, err := cl.Connect(ctx, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A Socket.IO backend's binary attachments reach a Socket.IO client
// through the gateway, as they do talking to the backend directly: the
// gateway passed the event's arguments on without its attachments, so the
// official client got {"_placeholder":true,"num":0} where the backend sent
// a Buffer. An ack with attachments, which the gateway does not bridge,
// is answered with an error instead of the placeholders.
func TestE2EBinaryAttachmentsFromTheBackend(t *testing.T) {
	f := frontOnSIOBackend(t, binaryBackend(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := f.sioSocket(t, ctx, "binary")

	if err := s.Emit(ctx, "bin-emit"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-s.Events():
		if ev.Name != "bin" || len(ev.Args) != 2 || string(ev.Args[0]) != string(sioclient.Placeholder(0)) ||
			string(ev.Args[1]) != `"x"` || len(ev.Binary) != 1 || !bytes.Equal(ev.Binary[0], []byte{9, 8, 7}) {
			t.Fatalf("got event %q args %q attachments %v, want \"bin\" [placeholder 0, \"x\"] with [[9 8 7]]", ev.Name, ev.Args, ev.Binary)
		}
	case <-s.Done():
		t.Fatalf("socket closed: %v", s.Err())
	case <-ctx.Done():
		t.Fatal("no event from the backend")
	}

	reply, err := s.EmitWithAck(ctx, "bin-ack")
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.Binary) == 0 && (len(reply.Args) != 1 || !strings.HasPrefix(string(reply.Args[0]), `{"error":`)) {
		t.Fatalf("ack %q without its attachments, want the attachments or an error", reply.Args)
	}
}
