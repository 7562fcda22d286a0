package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/baton-rt/baton/internal/testenv"
)

// parseAckStd is parseAck as it was with encoding/json: the reference
// FuzzParseAckMatchesJSON compares with.
func parseAckStd(event string, arg []byte) (Position, error) {
	var v struct {
		OK    bool            `json:"ok"`
		Seq   *uint64         `json:"seq"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(arg, &v); err != nil {
		return Position{}, fmt.Errorf("%w: %s: %w", ErrBadReply, event, err)
	}
	if len(v.Error) > 0 && !bytes.Equal(v.Error, []byte("null")) {
		return Position{}, remoteError(v.Error)
	}
	if !v.OK {
		return Position{}, fmt.Errorf("%w: %s: %s", ErrBadReply, event, arg)
	}
	if v.Seq != nil {
		return Position{Seq: *v.Seq, HasSeq: true}, nil
	}
	return Position{}, nil
}

// ackVerdict classifies a parseAck result, with the remote error's fields.
func ackVerdict(pos Position, err error) string {
	var re *RemoteError
	switch {
	case err == nil:
		return fmt.Sprintf("ok %+v", pos)
	case errors.As(err, &re):
		return fmt.Sprintf("remote %+v", *re)
	case errors.Is(err, ErrBadReply):
		return "ErrBadReply"
	}
	return fmt.Sprintf("other: %v", err)
}

// FuzzParseAckMatchesJSON: parseAck gives the verdict, position and remote
// error the encoding/json version gave.
func FuzzParseAckMatchesJSON(f *testing.F) {
	for _, s := range []string{
		`{"ok":true}`, `{"ok":true,"seq":12}`, `{"ok":false}`,
		`{"error":"history_gone: gone"}`, `{"error":{"code":"c","message":"m"}}`,
		`{"error":null,"ok":true,"seq":null}`, `{"error":"x","seq":-1}`, `{"ok":1}`,
		`{"ok":true,"seq":18446744073709551616}`, `null`, `"x"`, `[1]`, `{"ok":true,"seq":1e2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		pos, err := parseAck("subscribe", in)
		wantPos, wantErr := parseAckStd("subscribe", in)
		if !testenv.PlainJSONKeys(in, "ok", "seq", "error") || bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) > 1000 {
			return
		}
		if got, want := ackVerdict(pos, err), ackVerdict(wantPos, wantErr); got != want {
			t.Fatalf("parseAck(%q) = %s; encoding/json: %s", in, got, want)
		}
	})
}

func TestParseAckEdges(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{` { "seq" : 3 , "ok" : true } `, "ok {Seq:3 HasSeq:true}"},
		{`{"ok":true,"seq":null,"error":null}`, "ok {Seq:0 HasSeq:false}"},
		{`{"ok":true,"seq":18446744073709551615}`, "ok {Seq:18446744073709551615 HasSeq:true}"},
		{`{"o\u006b":true,"s\u0065q":4}`, "ok {Seq:4 HasSeq:true}"},
		{`{"ok":true,"seq":1,"seq":2}`, "ok {Seq:2 HasSeq:true}"}, // last wins
		{`{"ok":true,"data":{"nested":[1,{"seq":9}]}}`, "ok {Seq:0 HasSeq:false}"},
		{`{"ok":true,"seq":18446744073709551616}`, "ErrBadReply"}, // overflow
		{`{"ok":true,"seq":-1}`, "ErrBadReply"},
		{`{"ok":true,"seq":1.5}`, "ErrBadReply"},
		{`{"ok":true,"seq":"1"}`, "ErrBadReply"},
		{`{"ok":"yes"}`, "ErrBadReply"},
		{`{"error":"x","ok":1}`, "ErrBadReply"}, // a bad ok wins over the error
		{`{"ok":true,"x":[1,]}`, "ErrBadReply"}, // the whole object is checked
		{`{"OK":true}`, "ErrBadReply"},          // keys are case-sensitive
		{`{"ok":true} {}`, "ErrBadReply"},
		{`{"error":"not_found: no such channel","ok":true}`, "remote {Code:not_found Message:no such channel Channel:}"},
		{`{"error":{"code":"c","message":"m","channel":"x"}}`, "remote {Code:c Message:m Channel:x}"},
	} {
		pos, err := parseAck("subscribe", []byte(tc.in))
		if got := ackVerdict(pos, err); got != tc.want {
			t.Errorf("parseAck(%s) = %s (%v); want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestParseAckAllocs(t *testing.T) {
	ack := []byte(`{"ok":true,"seq":12}`)
	if n := testing.AllocsPerRun(100, func() { _, _ = parseAck("subscribe", ack) }); n != 0 {
		t.Errorf("parseAck: %v allocs, want 0", n)
	}
}
