package app

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/service"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// A client's publish or custom event that the edge takes (under
// edge.max_message_bytes, 1 MiB by default) but that is over its
// backend's own message limit (the reference services take 64 KiB) was
// forwarded: the backend closed that session's connection (a legacy one
// with 1009), which counted against the backend as an abnormal close (read
// by the rollout's error-rate gate), the client got an internal error
// that named the upstream close, and the session re-attached, moving to
// the other backend when it happened again. With
// backends.<color>.max_message_bytes set to the services' limit the
// gateway refuses such a frame itself, before writing anything: the
// client gets message_too_large, the backend connection stays, nothing
// counts against the backend, and the session goes on where it was.
func TestFrameOverTheBackendLimitIsRefused(t *testing.T) {
	// The reference services with their default limit (64 KiB).
	blue, green := testBackends(t)
	cfg := testConfig(blue, green, "")
	cfg.Backends.Blue.MaxMessageBytes = service.DefaultMaxMessageBytes
	cfg.Backends.Green.MaxMessageBytes = service.DefaultMaxMessageBytes
	cfg.Health.Probe.Disabled = true
	cfg.Routing.Allow = []string{"legacy-green", "sio-green"}
	a := start(t, cfg, Options{})
	fx := &limitFixture{
		a:   a,
		big: jsonString(100_000), // over 64 KiB, under the edge's 1 MiB
		// Every client stays connected to the end, so that each subtest
		// counts the sessions of those before it on its backend.
		keep:     t.Cleanup,
		sessions: map[router.Color]int{},
		tooLarge: a.Edge().Stats().TooLarge,
	}
	for _, tc := range []struct {
		user string
		on   router.Color
	}{{"legacy-blue", router.Blue}, {"legacy-green", router.Green}} {
		t.Run(tc.user, func(t *testing.T) { fx.legacyClient(t, tc.user, tc.on) })
	}
	for _, tc := range []struct {
		user string
		on   router.Color
	}{{"sio-blue", router.Blue}, {"sio-green", router.Green}} {
		t.Run(tc.user, func(t *testing.T) { fx.sioClient(t, tc.user, tc.on) })
	}
}

// limitFixture is the gateway of TestFrameOverTheBackendLimitIsRefused
// and what its clients, one after the other, have left there.
type limitFixture struct {
	a        *running
	big      []byte       // a JSON value over the backends' limit
	keep     func(func()) // the cleanup of the whole test, not a subtest's
	sessions map[router.Color]int
	tooLarge uint64 // the edge's too_large at the last refusal
}

// check is what must hold once a client's big frame was refused and
// a small publish went through after it: the backend did not close,
// nothing counted against either backend, the session stayed.
func (fx *limitFixture) check(t *testing.T, on router.Color) {
	t.Helper()
	st := fx.a.Gateway().Status()
	if st.Moves.Drops != 0 || st.Moves.Reattached != 0 {
		t.Errorf("backend connections dropped: %d (re-attached %d), want none", st.Moves.Drops, st.Moves.Reattached)
	}
	got := map[router.Color]int{router.Blue: st.Sessions.Blue, router.Green: st.Sessions.Green}
	if got[on] != fx.sessions[on] {
		t.Errorf("sessions on %s: %d, want %d (%+v)", on, got[on], fx.sessions[on], st.Sessions)
	}
	for _, c := range []router.Color{router.Blue, router.Green} {
		tot := fx.a.Monitor().Snapshot(c).Totals
		if tot.AbnormalCloses != 0 || tot.Errors() != 0 {
			t.Errorf("%s's health: %d abnormal closes, %d errors, want none (%+v)", c, tot.AbnormalCloses, tot.Errors(), tot)
		}
	}
}

// refused checks that the edge counted one more refusal for size.
func (fx *limitFixture) refused(t *testing.T) {
	t.Helper()
	n := fx.a.Edge().Stats().TooLarge
	if n <= fx.tooLarge {
		t.Errorf("edge too_large %d, want more than %d", n, fx.tooLarge)
	}
	fx.tooLarge = n
}

// legacyClient connects a legacy client as user, routed to on, which
// sends a big publish and a big custom request, each refused, and then a
// small publish that goes through.
func (fx *limitFixture) legacyClient(t *testing.T, user string, on router.Color) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+fx.a.EdgeAddr()+"/ws?user="+user, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.keep(func() { _ = ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	fx.sessions[on]++
	ch := user
	// answer sends frame and reads up to the answer to id, noting
	// the seqs of the messages read on the way.
	seen := map[uint64]bool{}
	answer := func(id uint64, frame string) legacy.Frame {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("reading the answer to %d: %v", id, err)
			}
			f, err := legacy.Decode(b)
			if err != nil {
				t.Fatalf("frame %s: %v", b, err)
			}
			if f.Type == legacy.TypeMessage {
				seen[f.Seq] = true
			} else if f.ID == id {
				return f
			}
		}
	}
	if f := answer(1, `{"type":"subscribe","id":1,"channel":"`+ch+`"}`); f.Type != legacy.TypeAck {
		t.Fatalf("subscribe answered %+v", f)
	}
	for id, frame := range map[uint64]string{
		2: `{"type":"publish","id":2,"channel":"` + ch + `","data":` + string(fx.big) + `}`,
		3: `{"type":"shout","id":3,"data":` + string(fx.big) + `}`, // a custom request
	} {
		f := answer(id, frame)
		if f.Type != legacy.TypeError || f.Code != legacy.CodeMessageTooLarge {
			t.Errorf("frame of %d bytes answered %s %q, want a %s error", len(frame), f.Code, f.Message, legacy.CodeMessageTooLarge)
		} else if !strings.HasSuffix(f.Message, "over its limit of 65536") || strings.Contains(f.Message, "upstream") {
			t.Errorf("error message %q: want the backend's limit, and no upstream detail", f.Message)
		}
		fx.refused(t)
	}
	after := answer(4, `{"type":"publish","id":4,"channel":"`+ch+`","data":"after"}`)
	if after.Type != legacy.TypeAck || !after.HasSeq {
		t.Fatalf("publish after the refused ones answered %+v", after)
	}
	for !seen[after.Seq] {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("message %d never came: %v", after.Seq, err)
		}
		if m, err := legacy.Decode(b); err == nil && m.Type == legacy.TypeMessage {
			seen[m.Seq] = true
		}
	}
	fx.check(t, on)
}

// sioClient connects a Socket.IO client as user, routed to on, which
// sends a big publish and a big custom event with an ack, each refused,
// and then a small publish that goes through.
func (fx *limitFixture) sioClient(t *testing.T, user string, on router.Color) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := sioclient.Dial(ctx, "http://"+fx.a.EdgeAddr()+"/socket.io/?user="+user, sioclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fx.keep(func() { _ = cl.Close() })
	s, err := cl.Connect(ctx, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.sessions[on]++
	ch := user
	if err := s.Subscribe(ctx, ch, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.Publish(ctx, ch, fx.big)
	var ae *sioclient.AckError
	if !errors.As(err, &ae) || !strings.HasPrefix(ae.Message, legacy.CodeMessageTooLarge+": ") {
		t.Errorf("publish of %d bytes: %v, want a %s error", len(fx.big), err, legacy.CodeMessageTooLarge)
	}
	fx.refused(t)
	// A custom event with an ack, over the limit.
	reply, err := s.EmitWithAck(ctx, "shout", fx.big)
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.Args) != 1 || !bytes.HasPrefix(reply.Args[0], []byte(`{"error":"`+legacy.CodeMessageTooLarge+`: `)) {
		t.Errorf("custom event of %d bytes answered %s, want a %s error", len(fx.big), reply.Args, legacy.CodeMessageTooLarge)
	}
	fx.refused(t)
	seq, err := s.Publish(ctx, ch, []byte(`"after"`))
	if err != nil {
		t.Fatalf("publish after the refused one: %v", err)
	}
	for {
		select {
		case ev := <-s.Events():
			if ev.Message == nil || ev.Message.Seq != seq {
				continue
			}
		case <-s.Done():
			t.Fatalf("socket closed: %v", s.Err())
		case <-ctx.Done():
			t.Fatalf("message %d never came", seq)
		}
		break
	}
	fx.check(t, on)
}

// Each backend's limit applies to the frames sent to it: a session that
// publishes 100 KB on a blue that takes 256 KiB is refused the same
// publish once moved to a green that takes 64 KiB, and stays there.
func TestBackendLimitFollowsTheMove(t *testing.T) {
	b := testBroker(t)
	blue := backendtest.LegacyWithLimits(t, b, service.Limits{MaxMessageBytes: 256 << 10})
	green := backendtest.SocketIO(t, b)
	cfg := testConfig(blue, green, "")
	cfg.Backends.Blue.MaxMessageBytes = 256 << 10
	cfg.Backends.Green.MaxMessageBytes = service.DefaultMaxMessageBytes
	cfg.Health.Probe.Disabled = true
	a := start(t, cfg, Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := legacyclient.Dial(ctx, "ws://"+a.EdgeAddr()+"/ws?user=mover", legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const ch = "mover"
	if _, err := c.Subscribe(ctx, ch, nil); err != nil {
		t.Fatal(err)
	}
	big := jsonString(100_000)
	publish := func(data []byte) {
		t.Helper()
		seq, err := c.Publish(ctx, ch, data)
		if err != nil {
			t.Fatalf("publish of %d bytes: %v", len(data), err)
		}
		for {
			select {
			case m := <-c.Messages():
				if m.Seq != seq {
					continue
				}
			case <-c.Done():
				t.Fatalf("client closed: %v", c.Err())
			case <-ctx.Done():
				t.Fatalf("message %d never came", seq)
			}
			return
		}
	}
	publish(big) // blue takes it

	if moved, failed, err := a.Gateway().SetWeight(ctx, router.Full); err != nil || moved != 1 || failed != 0 {
		t.Fatalf("move to green: moved %d, failed %d, %v", moved, failed, err)
	}
	_, err = c.Publish(ctx, ch, big)
	var se *legacyclient.ServerError
	if !errors.As(err, &se) || se.Code != legacy.CodeMessageTooLarge {
		t.Fatalf("publish of %d bytes on green: %v, want a %s error", len(big), err, legacy.CodeMessageTooLarge)
	}
	publish([]byte(`"after"`))
	st := a.Gateway().Status()
	if st.Moves.Drops != 0 || st.Sessions.Green != 1 {
		t.Errorf("after the refused publish: %d drops, sessions %+v; want none, the session on green", st.Moves.Drops, st.Sessions)
	}
	if tot := a.Monitor().Snapshot(router.Green).Totals; tot.Errors() != 0 {
		t.Errorf("green's health: %+v, want no error", tot)
	}
}
