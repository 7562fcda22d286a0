package gateway_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// askingBackend is a Socket.IO backend that, on "ask-me" {n}, emits
// "question" n times asking for an acknowledgement, and sends every ack
// it gets to answers.
func askingBackend(t *testing.T) (url string, answers <-chan sio.Ack) {
	t.Helper()
	srv, err := sio.NewServer(sio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan sio.Ack, 128)
	srv.Of("/").On("ask-me", func(s *sio.Socket, e *sio.Event) {
		n := 1
		if len(e.Args) > 0 && len(e.Args[0]) == 1 {
			n = int(e.Args[0][0]-'0') * 10 // "7" asks 70 times
		}
		for range n {
			p, err := s.EmitAsking("question", [][]byte{{4, 2}}, []byte(`"why?"`), sioclient.Placeholder(0))
			if err != nil {
				t.Errorf("backend: %v", err)
				return
			}
			go func() {
				defer p.Drop()
				ctx, cancel := context.WithTimeout(s.Context(), 20*time.Second)
				defer cancel()
				if a, err := p.Wait(ctx); err == nil {
					got <- a
				}
			}()
		}
	})
	return backendtest.ServeSIO(t, srv), got
}

// A Socket.IO backend's emit with a callback asks the Socket.IO client
// through the gateway, and the client's ack, attachment included, reaches
// the callback, as it would talking to the backend directly. A legacy
// client, which cannot answer, gets the event, counted as not bridged, and
// so does a Socket.IO client past 64 unanswered asks.
func TestE2EBackendAsksTheClient(t *testing.T) {
	url, answers := askingBackend(t)
	f := frontOnSIOBackend(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	question := func(s *sioclient.Socket) sioclient.Event {
		t.Helper()
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("the client's socket closed: %v", s.Err())
			}
			if ev.Name != "question" || len(ev.Args) != 2 || string(ev.Args[0]) != `"why?"` ||
				len(ev.Binary) != 1 || !bytes.Equal(ev.Binary[0], []byte{4, 2}) {
				t.Fatalf("event %q args %q attachments %v, want the question", ev.Name, ev.Args, ev.Binary)
			}
			return ev
		case <-ctx.Done():
			t.Fatal("no question came")
		}
		panic("unreachable")
	}

	s := f.sioSocket(t, ctx, "asked")
	if err := s.Emit(ctx, "ask-me"); err != nil {
		t.Fatal(err)
	}
	ev := question(s)
	if !ev.WantsAck() {
		t.Fatal("the question reached the client without asking for an ack")
	}
	if err := ev.AckPayload(ctx, sioclient.Payload{Args: [][]byte{[]byte(`"because"`), sioclient.Placeholder(0)}, Binary: [][]byte{{7}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-answers:
		if len(a.Args) != 2 || string(a.Args[0]) != `"because"` || len(a.Binary) != 1 || !bytes.Equal(a.Binary[0], []byte{7}) {
			t.Fatalf("the backend's callback got %q with %v, want the client's answer", a.Args, a.Binary)
		}
	case <-ctx.Done():
		t.Fatal("the client's answer never reached the backend's callback")
	}

	// 70 asks to a client that answers none: 64 are asked, 6 are not.
	if err := s.Emit(ctx, "ask-me", []byte(`7`)); err != nil {
		t.Fatal(err)
	}
	asked := 0
	for range 70 {
		if question(s).WantsAck() {
			asked++
		}
	}
	if asked != 64 {
		t.Errorf("%d of 70 asks reached the client as asks, want 64", asked)
	}
	if got := f.edge.Stats().AsksNotBridged; got != 6 {
		t.Errorf("asks_not_bridged %d, want 6", got)
	}

	ws, _, err := websocket.Dial(ctx, "ws://"+f.edgeAddr+"/ws?user=legacy-asked", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ask-me"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("the legacy client got no question: %v", err)
		}
		if bytes.Contains(b, []byte(`"type":"question"`)) {
			break
		}
	}
	if got := f.edge.Stats().AsksNotBridged; got != 7 {
		t.Errorf("asks_not_bridged %d, want 7 after the legacy client's", got)
	}
}

// The official npm socket.io-client, through the gateway, is asked the
// backend's question (its callback argument is there) and its answer,
// with a Buffer, reaches the backend's callback (interop/ask_client.js).
func TestE2ENodeClientAnswersTheBackend(t *testing.T) {
	node, dir := testenv.Node(t)
	url, answers := askingBackend(t)
	f := frontOnSIOBackend(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "ask_client.js"), "--url", "http://"+f.edgeAddr, "--user", "node-asked")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	select {
	case a := <-answers:
		if len(a.Args) != 2 || string(a.Args[0]) != `"because"` || len(a.Binary) != 1 || !bytes.Equal(a.Binary[0], []byte{7}) {
			t.Fatalf("the backend's callback got %q with %v, want (\"because\", <Buffer 07>)", a.Args, a.Binary)
		}
	case <-ctx.Done():
		t.Fatal("the official client's answer never reached the backend's callback")
	}
}
