package sioclient

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/engineio"
)

// recordingTransport stands in for the network in fuzz tests.
type recordingTransport struct {
	mu   sync.Mutex
	sent []engineio.Packet
}

func (r *recordingTransport) send(_ context.Context, ps []engineio.Packet) error {
	r.mu.Lock()
	for _, p := range ps {
		p.Data = bytes.Clone(p.Data) // lent for the call only
		r.sent = append(r.sent, p)
	}
	r.mu.Unlock()
	return nil
}
func (r *recordingTransport) boundsWrites() bool       { return true }
func (r *recordingTransport) shutdown(context.Context) {}
func (r *recordingTransport) abort()                   {}

// offlineClient is a Client wired to a recordingTransport, with "/"
// connected (pending ack ids 0 and 1) and "/admin" still connecting.
func offlineClient(t testing.TB, opts Options) (*Client, *recordingTransport) {
	opts = opts.withDefaults()
	c := &Client{opts: opts}
	c.eng = newEngine(&c.opts, mustEndpoint(t, "http://127.0.0.1/socket.io/"))
	c.eng.onPacket = c.onPacket
	c.eng.onClose = c.onClose
	rt := &recordingTransport{}
	c.eng.tr = rt
	if err := c.eng.handshake(engineio.Packet{Type: engineio.Open, Data: []byte(fakeOpen[1:])}); err != nil {
		t.Fatal(err)
	}
	root := newSocket(c, "/")
	root.accept([]byte(`{"sid":"a"}`))
	// Ack ids 0 and 1: an EmitWithAck waiting, an EmitWithAckFunc's callback.
	for _, pa := range []*pendingAck{
		{ch: make(chan Payload, 1)},
		{then: func(Payload, error) {}},
	} {
		if _, err := root.expectAck(pa); err != nil {
			t.Fatal(err)
		}
	}
	c.sockets = map[string]*Socket{"/": root, "/admin": newSocket(c, "/admin")}
	return c, rt
}

// FuzzClientPackets feeds arbitrary server traffic to the client's packet
// handling: frames separated by 0x1e, a frame starting with 0xff being a
// binary message. Nothing may panic, block or leave the client half
// closed.
func FuzzClientPackets(f *testing.F) {
	for _, seed := range []string{
		`40{"sid":"x"}`,
		"2\x1e3\x1e6",
		`42["message",{"channel":"c","seq":1,"data":{"a":1}}]`,
		`430["ok"]` + "\x1e" + `431[]`,
		`40/admin,{"sid":"y"}`,
		`44/admin,{"message":"unauthorized","data":{"reason":"x"}}`,
		`44/admin,"bare string"`,
		`41`,
		`451-["bin",{"_placeholder":true,"num":0}]` + "\x1e\xff\x01\x02",
		`461-0[{"_placeholder":true,"num":0}]` + "\x1e\xff\x09",
		`42/nope,["x"]`,
		"1",
		"\xff\x00",
		"4" + `2["` + string(bytes.Repeat([]byte("a"), 100)) + `"]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, _ := offlineClient(t, Options{EventBuffer: 8})
		sockets := []*Socket{c.sockets["/"], c.sockets["/admin"]}
		for frame := range bytes.SplitSeq(in, []byte{engineio.Separator}) {
			if len(frame) > 0 && frame[0] == 0xff {
				c.eng.receive(engineio.DecodeBinary(frame[1:]))
				continue
			}
			p, err := engineio.DecodeText(frame)
			if err != nil {
				continue
			}
			c.eng.receive(p)
		}
		c.eng.close()
		if !isClosed(c.eng.done) {
			t.Fatal("client not closed")
		}
		for _, s := range sockets {
			if !isClosed(s.done) || s.Err() == nil {
				t.Fatalf("socket %s not ended after client close", s.nsp)
			}
		}
	})
}

// FuzzParseMessage: the pub/sub "message" parser never panics and agrees
// with encoding/json (what it replaced) on what it accepts and on the
// fields, wherever the input has no duplicate or case-folded key.
func FuzzParseMessage(f *testing.F) {
	for _, seed := range []string{
		`{"channel":"c","seq":1,"data":{"a":1}}`,
		`{"channel":"c","seq":18446744073709551615,"data":null}`,
		`{"channel":"c"}`,
		`{"seq":-1}`,
		`[]`,
		`{"channel":"\u00e9","seq":2,"data":"x","extra":true}`,
		`{"channel":"c","seq":18446744073709551616}`,
		`{"channel":"c","seq":1,"data":{bad}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := parseMessage(in, nil)
		want, stdErr := parseMessageStd(in)
		if !testenv.PlainJSONKeys(in, "channel", "seq", "data") || (stdErr == nil && err != nil && tooDeep(in)) {
			return
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("parseMessage(%q): %v; encoding/json: %v", in, err, stdErr)
		}
		if err == nil && (m.Channel != want.Channel || m.Seq != want.Seq || !bytes.Equal(m.Data, want.Data) || (m.Data == nil) != (want.Data == nil)) {
			t.Fatalf("parseMessage(%q) = %+v; encoding/json %+v", in, m, want)
		}
	})
}

// FuzzParseAck: parseAck agrees with the encoding/json version it replaced.
func FuzzParseAck(f *testing.F) {
	for _, seed := range []string{
		`{"ok":true}`, `{"ok":true,"seq":12}`, `{"ok":false}`, `{"error":"channel required"}`,
		`{"error":{"code":"c"},"ok":true}`, `{"error":null,"ok":true,"seq":null}`, `{"ok":1}`,
		`{"error":"x","seq":-1}`, `null`, `[1]`, `{"ok":true,"seq":1.5}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ack, err := parseAck("e", in)
		want, stdErr := parseAckStd("e", in)
		if !testenv.PlainJSONKeys(in, "ok", "seq", "error") || (stdErr == nil && err != nil && tooDeep(in)) {
			return
		}
		if ackVerdict(err) != ackVerdict(stdErr) {
			t.Fatalf("parseAck(%q): %v; encoding/json: %v", in, err, stdErr)
		}
		var ae, wantAE *AckError
		if errors.As(err, &ae) && errors.As(stdErr, &wantAE) && *ae != *wantAE {
			t.Fatalf("parseAck(%q): %+v; encoding/json: %+v", in, ae, wantAE)
		}
		if err == nil && (ack.OK != want.OK || (ack.Seq == nil) != (want.Seq == nil) || ack.Seq != nil && *ack.Seq != *want.Seq) {
			t.Fatalf("parseAck(%q) = %+v; encoding/json %+v", in, ack, want)
		}
	})
}
