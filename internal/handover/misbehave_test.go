package handover_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/session/sessiontest"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// misbehaviour is a script for the backend a session is moved to, and
// whether the move (or re-attach) must fail on it.
type misbehaviour struct {
	name   string
	script func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte)
	fails  bool
	// moveOnly: not tried on a re-attach (see TestReattachToAMisbehavingBackend).
	moveOnly bool
}

// skipOnce is the script of a backend that drops, once per channel, the
// message that comes after n of the channel's messages have passed.
func skipOnce(n int) func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
	return func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
		skipped := state(c, "skipped", func() map[string]bool { return map[string]bool{} })
		if passed, _ := c.passed(f.Channel); f.Type == legacy.TypeMessage && passed == n {
			c.mu.Lock()
			skip := !skipped[f.Channel]
			skipped[f.Channel] = true
			c.mu.Unlock()
			if skip {
				return
			}
		}
		c.pass(typ, f, raw)
	}
}

// state returns the script's state under key, made by mk the first time.
func state[T any](c *mitmConn, key string, mk func() T) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.st[key]
	if !ok {
		v = mk()
		c.st[key] = v
	}
	return v.(T)
}

func misbehaviours(e *env) []misbehaviour {
	msg := func(ch string, seq uint64, data string) string {
		return fmt.Sprintf(`{"type":"message","channel":%q,"seq":%d,"data":%s}`, ch, seq, data)
	}
	return []misbehaviour{
		{name: "replay goes back", script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			prev := state(c, "prev", func() map[string][]byte { return map[string][]byte{} })
			c.pass(typ, f, raw)
			if f.Type == legacy.TypeMessage {
				c.mu.Lock()
				p := prev[f.Channel]
				prev[f.Channel] = slices.Clone(raw)
				c.mu.Unlock()
				if p != nil {
					c.send(typ, p) // the one before again, after this one
				}
			}
		}},
		{name: "every message twice", script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			c.pass(typ, f, raw)
			if f.Type == legacy.TypeMessage {
				c.send(typ, raw)
			}
		}},
		// The second message of each channel's first subscribe on the
		// connection: a recovery's resubscribe is served right.
		{name: "replay skips a seq", script: skipOnce(1)},
		// Once per channel, well before the publisher stops: a gap shows
		// only when a later seq comes.
		{name: "skips a seq after the cut-over", script: skipOnce(10)},
		{name: "replay starts below since", script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			if f.Type == legacy.TypeAck && f.HasSeq {
				if ch := c.channelOf(f.ID); ch != "" {
					c.pass(typ, f, raw)
					for seq := uint64(1); seq <= 3; seq++ {
						c.sendText(msg(ch, seq, `"old"`))
					}
					return
				}
			}
			c.pass(typ, f, raw)
		}},
		{name: "messages of a channel not subscribed", script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			c.pass(typ, f, raw)
			if f.Type == legacy.TypeAck {
				c.sendText(msg("zzz", 1, `"x"`))
				c.sendText(msg("zzz", 2, `"x"`))
			}
		}},
		{name: "a message far ahead before the ack", script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			if f.Type == legacy.TypeAck && f.HasSeq {
				if ch := c.channelOf(f.ID); ch != "" {
					c.sendText(msg(ch, f.Seq+1000, `"early"`))
				}
			}
			c.pass(typ, f, raw)
		}},
		{name: "ack twice and acks for ids never sent", script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			if f.Type == legacy.TypeAck {
				c.sendText(`{"type":"ack","id":99999,"seq":1}`)
				c.sendText(`{"type":"error","id":99998,"code":"internal","message":"x"}`)
				c.pass(typ, f, raw)
				c.send(typ, raw)
				return
			}
			c.pass(typ, f, raw)
		}},
		{name: "unknown error code, no id", script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			c.pass(typ, f, raw)
			if f.Type == legacy.TypeAck {
				c.sendText(`{"type":"error","code":"weird","message":"x","channel":"a"}`)
			}
		}},
		{name: "error after streaming the channel", fails: true, script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			held := state(c, "held", func() *uint64 { return new(uint64) })
			switch {
			case f.Type == legacy.TypeAck && c.channelOf(f.ID) == "b":
				c.mu.Lock()
				*held = f.ID
				c.mu.Unlock()
				return
			case f.Type == legacy.TypeMessage && f.Channel == "b":
				c.pass(typ, f, raw)
				c.mu.Lock()
				id, n := *held, c.n["b"]
				c.mu.Unlock()
				if id != 0 && n == 5 {
					c.sendText(fmt.Sprintf(`{"type":"error","id":%d,"code":"internal","message":"changed its mind","channel":"b"}`, id))
				}
				return
			}
			c.pass(typ, f, raw)
		}},
		{name: "unknown error code answering a subscribe", fails: true, script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			if f.Type == legacy.TypeAck && c.channelOf(f.ID) == "c" {
				c.sendText(fmt.Sprintf(`{"type":"error","id":%d,"code":"weird_code","message":"x"}`, f.ID))
				return
			}
			c.pass(typ, f, raw)
		}},
		{name: "closes after some acks", fails: true, script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			if f.Type == legacy.TypeAck {
				acked := state(c, "acked", func() *int { return new(int) })
				c.mu.Lock()
				*acked++
				n := *acked
				c.mu.Unlock()
				if n == len(channels) {
					c.cut()
					return
				}
			}
			c.pass(typ, f, raw)
		}},
		{name: "not JSON mid-move", fails: true, script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			c.pass(typ, f, raw)
			if f.Type == legacy.TypeAck {
				c.sendText(`not json`)
			}
		}},
		{name: "binary frame mid-move", fails: true, script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			c.pass(typ, f, raw)
			if f.Type == legacy.TypeAck {
				c.send(websocket.MessageBinary, []byte(`{"type":"message","channel":"a","seq":1,"data":1}`))
			}
		}},
		{name: "stalls half-way through the catch-up", fails: true, moveOnly: true, script: func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
			// Passes two messages of each channel, then nothing more of
			// it, and acks the channel once blue has delivered past
			// those two: the connection stays open and answers pings.
			held := state(c, "held", func() map[string][]byte { return map[string][]byte{} })
			top := state(c, "top", func() map[string]uint64 { return map[string]uint64{} })
			switch {
			case f.Type == legacy.TypeAck && c.channelOf(f.ID) != "":
				c.mu.Lock()
				held[c.channelOf0(f.ID)] = slices.Clone(raw)
				c.mu.Unlock()
				return
			case f.Type == legacy.TypeMessage:
				if n, _ := c.passed(f.Channel); n < 2 {
					c.pass(typ, f, raw)
					c.mu.Lock()
					top[f.Channel] = f.Seq
					c.mu.Unlock()
				}
				c.mu.Lock()
				ack, n, passed := held[f.Channel], c.n[f.Channel], top[f.Channel]
				c.mu.Unlock()
				if ack != nil && n == 2 && e.sink.Last(f.Channel) > passed {
					c.mu.Lock()
					delete(held, f.Channel)
					c.mu.Unlock()
					c.send(websocket.MessageText, ack)
				}
				return
			}
			c.pass(typ, f, raw)
		}},
	}
}

func misbehaviourNames() []string {
	var names []string
	for _, mb := range misbehaviours(nil) {
		names = append(names, mb.name)
	}
	return names
}

func misbehaviourNamed(e *env, name string) misbehaviour {
	for _, mb := range misbehaviours(e) {
		if mb.name == name {
			return mb
		}
	}
	panic(name)
}

// A backend the session is moved to that misbehaves on the wire (replays
// out of order, skips, repeats, answers wrongly, breaks the protocol,
// stalls) never costs the client a duplicate, a reorder or a loss: a move
// it cannot carry fails, the session staying on blue, and one it can
// carry goes on from it.
func TestMoveToAMisbehavingBackend(t *testing.T) {
	for _, name := range misbehaviourNames() {
		t.Run(name, func(t *testing.T) {
			e := setup(t)
			mb := misbehaviourNamed(e, name)
			m := startMITM(t, backendtest.Legacy(t, e.b).URL, mb.script)
			ctx := testenv.Context(t, 60*time.Second)
			p := sessiontest.Publish(e.b, time.Millisecond, channels...)
			e.progress(t, 5)
			moved, err := handover.Move(ctx, e.s, router.Green, m.dialer(), handover.Options{Timeout: 2 * time.Second})
			switch {
			case mb.fails && err == nil:
				t.Errorf("move succeeded, want it to fail")
			case !mb.fails && (err != nil || !moved):
				t.Errorf("move: %v, %v; want it done", moved, err)
			}
			want := router.Green
			if mb.fails {
				want = router.Blue
			}
			if c := color(e.s); c != want {
				t.Errorf("on %v after the move, want %v", c, want)
			}
			e.progress(t, 30)
			e.finish(t, p)
			checkNoStray(t, e)
		})
	}
}

// A re-attach after blue dropped, on a backend that misbehaves, restores
// every channel exactly once, in order: there, or on the other backend
// when the first cannot carry the session.
func TestReattachToAMisbehavingBackend(t *testing.T) {
	for _, name := range misbehaviourNames() {
		t.Run(name, func(t *testing.T) {
			e := setup(t)
			mb := misbehaviourNamed(e, name)
			if mb.moveOnly {
				t.Skip("not detected on a re-attach")
			}
			m := startMITM(t, backendtest.Legacy(t, e.b).URL, mb.script)
			ctx := testenv.Context(t, 60*time.Second)
			p := sessiontest.Publish(e.b, time.Millisecond, channels...)
			e.progress(t, 5)
			e.killBlue(t)
			dial := func(c router.Color) upstream.Dialer {
				if c == router.Blue {
					return m.dialer()
				}
				return e.green.Dialer()
			}
			to, err := handover.Reattach(ctx, e.s, router.Blue, dial, handover.Options{Timeout: 2 * time.Second})
			want := router.Blue // the misbehaving one
			if mb.fails {
				want = router.Green
			}
			if err != nil || to != want {
				t.Errorf("reattach: %v, %v; want %v", to, err, want)
			}
			e.progress(t, 30)
			e.finish(t, p)
			checkNoStray(t, e)
		})
	}
}

// checkNoStray fails the test if the client got a message of a channel it
// did not subscribe to, or lost a channel.
func checkNoStray(t *testing.T, e *env) {
	t.Helper()
	if got := e.sink.Seqs("zzz"); len(got) > 0 {
		t.Errorf("delivered seqs %v of a channel not subscribed", got)
	}
	for _, ev := range e.sink.Events() {
		if ev.Kind == upstream.KindLost {
			t.Errorf("channel %q lost", ev.Channel)
		}
	}
	if closed, err := e.sink.Closed(); closed {
		t.Errorf("client closed: %v", err)
	}
}

// acksThenStalls is the script of a backend that acknowledges every
// subscribe, with the channel's position, passes n messages of each
// channel, replayed or live, and then none: the connection stays open and
// answers pings.
func acksThenStalls(n int) func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
	return func(c *mitmConn, typ websocket.MessageType, f legacy.Frame, raw []byte) {
		if passed, _ := c.passed(f.Channel); f.Type == legacy.TypeMessage && passed >= n {
			return
		}
		c.pass(typ, f, raw)
	}
}

// A re-attach after blue dropped, to a backend that acknowledges every
// subscribe and then sends nothing (or stops half-way through its
// replay). The client stands at the seq it had when blue dropped, so
// nothing it had tells that the new stream stalls; the acks do: each
// announces its channel's newest seq, which the backend replays before
// anything later. The re-attach commits there without waiting for it (a
// slow client would make that wait fail), and the stall is found after:
// the connection is closed and reported as a drop, ErrStalled, within the
// handover timeout, for the owner to re-attach elsewhere, after which
// every channel goes on exactly once, in order. Left on the stalling
// backend, the client would receive nothing more, with its connection
// open.
func TestReattachToABackendThatAcksAndStalls(t *testing.T) {
	for _, n := range []int{0, 2} {
		t.Run(fmt.Sprintf("after %d messages", n), func(t *testing.T) {
			e := setup(t)
			m := startMITM(t, backendtest.Legacy(t, e.b).URL, acksThenStalls(n))
			ctx := testenv.Context(t, 60*time.Second)
			p := sessiontest.Publish(e.b, time.Millisecond, channels...)
			e.progress(t, 5)
			e.killBlue(t)
			// The channels go on while the session is detached, so that
			// the new backend has more than n messages to replay on each.
			testenv.Eventually(t, "publishes on every channel after the drop", 10*time.Second, func() bool {
				for _, ch := range channels {
					if p.Last(ch) <= e.sink.Last(ch)+uint64(n) {
						return false
					}
				}
				return true
			})
			dial := func(c router.Color) upstream.Dialer {
				if c == router.Blue {
					return m.dialer()
				}
				return e.green.Dialer()
			}
			opts := handover.Options{Timeout: 2 * time.Second}
			if to, err := handover.Reattach(ctx, e.s, router.Blue, dial, opts); err != nil || to != router.Blue {
				t.Fatalf("reattach: %v, %v; want blue (its cut-over waits for no position an ack announced)", to, err)
			}
			select {
			case err := <-e.dropped:
				if !errors.Is(err, session.ErrStalled) {
					t.Fatalf("drop reported with %v, want ErrStalled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no drop reported within 10 s: the stalling blue acked, then sent no more, and the session stayed on it")
			}
			// As the gateway does once a backend keeps stalling (flap.go).
			if to, err := handover.Reattach(ctx, e.s, router.Green, dial, opts); err != nil || to != router.Green {
				t.Fatalf("reattach after the stall: %v, %v; want green", to, err)
			}
			e.progress(t, 30)
			e.finish(t, p)
			checkNoStray(t, e)
		})
	}
}
