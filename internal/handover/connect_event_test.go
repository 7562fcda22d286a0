package handover_test

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// A Socket.IO backend that greets each new socket with a custom event
// (io.on("connection", s => s.emit("hello"))): the event arrives while the
// session's first attachment is still being dialed, and reaches the client.
func TestConnectEventReachesTheClient(t *testing.T) {
	d := greetingBackend(t, func(so *sio.Socket) { _ = so.Emit("hello", []byte(`"welcome"`)) })

	sink := sessiontest.NewSink()
	s, err := session.New(session.Options{User: "u1", Protocol: config.ProtocolSocketIO, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := testenv.Context(t, 10*time.Second)
	if err := handover.Attach(ctx, s, router.Green, d, handover.Options{}); err != nil {
		t.Fatal(err)
	}
	if !sink.WaitFor(2*time.Second, func() bool { return len(sink.Events()) > 0 }) {
		t.Fatalf("the backend's connect-time event never reached the client (events dropped: %d)", s.Counters().EventsDropped.Load())
	}
}

// greetingBackend serves a Socket.IO backend whose main namespace runs
// onConnect for each new socket, and returns a dialer for it.
func greetingBackend(t *testing.T, onConnect func(*sio.Socket)) upstream.Dialer {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").OnConnect(onConnect)
	return &upstream.SocketIODialer{Options: upstream.Options{URL: backendtest.ServeSIO(t, srv)}}
}
