package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// askServer runs interop/ask_server.js, the official socket.io server
// asking its clients, and returns its URL and its stdout lines.
func askServer(t *testing.T) (url string, lines <-chan map[string]any) {
	t.Helper()
	node, dir := testenv.Node(t)
	cmd := exec.Command(node, filepath.Join(dir, "ask_server.js"))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan map[string]any, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				ch <- m
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the server exits
		for range ch {
		}
		<-done
	})
	select {
	case m := <-ch:
		port, ok := m["listening"].(float64)
		if !ok {
			t.Fatalf("ask_server.js: first line %v", m)
		}
		return "http://127.0.0.1:" + strconv.Itoa(int(port)), ch
	case <-time.After(15 * time.Second):
		t.Fatal("ask_server.js did not start within 15s")
		return "", nil
	}
}

// closeSignal passes a backend connection's end on to closes, after
// everything it wraps (the health recorder's count) has seen it.
type closeSignal struct {
	upstream.Dialer
	closes chan error
}

func (d *closeSignal) Dial(ctx context.Context, h upstream.Handler) (upstream.Conn, error) {
	return d.Dialer.Dial(ctx, &closeSignalHandler{Handler: h, closes: d.closes})
}

type closeSignalHandler struct {
	upstream.Handler
	closes chan error
}

func (h *closeSignalHandler) HandleClose(err error) {
	h.Handler.HandleClose(err)
	h.closes <- err
}

// A client's ack to a backend's ask whose placeholder stands for no
// attachment is the client's protocol error: the gateway closes that
// client, as the official server would, and the packet never reaches the
// backend. Passed on, the official server behind the gateway refused it
// ("illegal attachments") and closed the gateway's connection, which
// counted as that backend dropping a connection in its health (what a
// rollout's gates read) and made the session re-dial.
func TestE2EBadPlaceholderInAnAckStaysWithTheClient(t *testing.T) {
	url, lines := askServer(t)
	mon, err := health.New(health.Config{Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rec := mon.Backend(router.Green)
	closes := make(chan error, 8)
	e := setupWrapped(t, router.Full, nil, func(upstream.Dialer) upstream.Dialer {
		sio := &upstream.SocketIODialer{Options: upstream.Options{URL: url}}
		return &closeSignal{Dialer: upstream.Observe(sio, rec), closes: closes}
	})
	f := startFront(t, e, edge.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s := f.sioSocket(t, ctx, "bad-placeholder")
	if err := s.Emit(ctx, "ask-me"); err != nil {
		t.Fatal(err)
	}
	var ev sioclient.Event
	select {
	case ev = <-s.Events():
	case <-ctx.Done():
		t.Fatal("no question came")
	}
	if ev.Name != "question" || !ev.WantsAck() {
		t.Fatalf("got %q (asks: %v), want the question asking for an ack", ev.Name, ev.WantsAck())
	}
	if err := ev.AckPayload(ctx, sioclient.Payload{Args: [][]byte{sioclient.Placeholder(1)}, Binary: [][]byte{{7}}}); err != nil {
		t.Fatal(err)
	}

	// The backend connection ends either way: the backend drops it, or
	// the gateway closes it when the client's session ends.
	select {
	case err := <-closes:
		if err != nil {
			t.Errorf("the backend ended the gateway's connection: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the backend connection never ended")
	}
	if c := rec.Snapshot().Totals; c.AbnormalCloses != 0 || c.ProtocolErrors != 0 {
		t.Errorf("backend health counted the client's bad packet: %+v", c)
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("the client that sent the bad ack is still connected")
	}
	for {
		var m map[string]any
		var ok bool
		select {
		case m, ok = <-lines:
			if !ok {
				t.Fatal("ask_server.js ended")
			}
		case <-ctx.Done():
			t.Fatal("the backend never saw the gateway's connection leave")
		}
		if _, ok := m["error"]; ok {
			t.Errorf("the backend got the client's bad ack: %v", m)
		}
		if _, ok := m["answer"]; ok {
			t.Errorf("the backend's callback was called: %v", m)
		}
		if _, ok := m["disconnect"]; ok {
			return
		}
	}
}
