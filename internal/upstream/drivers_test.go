package upstream_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// backends starts each reference service on its own broker.
var backends = []struct {
	name  string
	start func(testing.TB, broker.Broker) *backendtest.Backend
}{
	{"legacy", backendtest.Legacy},
	{"socketio", backendtest.SocketIO},
}

// TestPubSub runs each driver against its reference service: live
// subscribe, publish, replay with since, refusals, unsubscribe, close.
func TestPubSub(t *testing.T) {
	for _, tc := range backends {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 20*time.Second)
			b := newBroker(t)
			be := tc.start(t, b)
			rec := newRecorder()
			c, err := be.Dialer().Dial(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}

			if _, err := c.Subscribe(ctx, "a", 0, false); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				seq, err := c.Publish(ctx, "a", []byte(fmt.Sprintf(`{"n": %d}`, i)))
				if err != nil || seq != uint64(i) {
					t.Fatalf("publish %d: seq %d, %v", i, seq, err)
				}
			}
			rec.waitFor(t, "3 messages on a", func(evs []upstream.Event, _ bool) bool { return len(messages(evs, "a")) == 3 })
			for i, ev := range messages(rec.events, "a") {
				if want := fmt.Sprintf(`{"n": %d}`, i+1); ev.Seq != uint64(i+1) || string(ev.Data) != want {
					t.Fatalf("message %d: seq %d data %s, want %d %s", i, ev.Seq, ev.Data, i+1, want)
				}
			}

			// A second subscription replays after since=1, to the exact bytes.
			if err := c.Unsubscribe(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			pos, err := c.Subscribe(ctx, "a", 1, true)
			if err != nil {
				t.Fatal(err)
			}
			if be.Protocol == "legacy" && (!pos.HasSeq || pos.Seq != 3) {
				t.Errorf("legacy subscribe position %+v, want seq 3", pos)
			}
			rec.waitFor(t, "replay of 2 and 3", func(evs []upstream.Event, _ bool) bool { return len(messages(evs, "a")) == 5 })
			if got := messages(rec.events, "a")[3:]; got[0].Seq != 2 || got[1].Seq != 3 || string(got[1].Data) != `{"n": 3}` {
				t.Fatalf("replay %+v", got)
			}

			// since ahead of the channel: a coded refusal.
			_, err = c.Subscribe(ctx, "b", 99, true)
			var re *upstream.RemoteError
			if !errors.As(err, &re) || re.Code != legacy.CodeBadSince {
				t.Fatalf("subscribe since 99: %v, want code %s", err, legacy.CodeBadSince)
			}
			if _, err := c.Publish(ctx, "a", []byte(`{bad`)); !errors.Is(err, upstream.ErrInvalidArgs) {
				t.Fatalf("publish bad JSON: %v", err)
			}

			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, "close", func(_ []upstream.Event, closed bool) bool { return closed })
			if rec.err != nil || c.Err() != nil {
				t.Fatalf("normal close reported %v / %v", rec.err, c.Err())
			}
			if _, err := c.Publish(ctx, "a", []byte(`1`)); !errors.Is(err, upstream.ErrClosed) {
				t.Fatalf("publish after close: %v", err)
			}
		})
	}
}

// TestKilledBackend: a backend that dies ends the connection with an error,
// and waiting requests fail instead of hanging.
func TestKilledBackend(t *testing.T) {
	for _, tc := range backends {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 20*time.Second)
			be := tc.start(t, newBroker(t))
			rec := newRecorder()
			c, err := be.Dialer().Dial(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			be.Kill()
			rec.waitFor(t, "close", func(_ []upstream.Event, closed bool) bool { return closed })
			if rec.err == nil || c.Err() == nil {
				t.Fatal("killed backend: connection ended without error")
			}
			if _, err := c.Subscribe(ctx, "a", 0, false); !errors.Is(err, upstream.ErrClosed) {
				t.Fatalf("subscribe after kill: %v", err)
			}
			if _, err := be.Dialer().Dial(ctx, newRecorder()); err == nil {
				t.Fatal("dial to a killed backend succeeded")
			}
		})
	}
}

// TestLegacyCustomFrames: custom requests and events reach a legacy backend
// as frames of their own type; the reference service refuses them with
// unknown_type, answering the request by id and the event without.
func TestLegacyCustomFrames(t *testing.T) {
	ctx := testenv.Context(t, 20*time.Second)
	be := backendtest.Legacy(t, newBroker(t))
	rec := newRecorder()
	c, err := be.Dialer().Dial(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Request(ctx, "hello", [][]byte{[]byte(`{"type":"x","who":"me"}`)})
	if !upstream.IsCode(err, legacy.CodeUnknownType) {
		t.Fatalf("custom request: %v, want unknown_type", err)
	}
	if err := c.Emit(ctx, "hello", nil); err != nil {
		t.Fatal(err)
	}
	// The refusal of an id-less frame answers no request: it passes
	// through as an "error" event carrying the whole frame.
	rec.waitFor(t, "error event", func(evs []upstream.Event, _ bool) bool {
		return len(evs) == 1 && evs[0].Kind == upstream.KindEvent && evs[0].Name == "error"
	})
	f, err := legacy.Decode(rec.events[0].Args[0])
	if err != nil || f.Code != legacy.CodeUnknownType {
		t.Fatalf("error event %s: %v", rec.events[0].Args[0], err)
	}
}
