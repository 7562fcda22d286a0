package upstream

import (
	"errors"
	"testing"

	"github.com/baton-rt/baton/internal/wire/legacy"
)

func TestAppendLegacyFrame(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event string
		id    uint64
		args  []string
		want  string
	}{
		{"object", "hello", 0, []string{`{"who": "me", "n": 1.50e+2}`}, `{"type":"hello","who":"me","n":1.50e+2}`},
		{"object with type and id", "hello", 9, []string{`{"type":"x","id":3,"k":[1, 2]}`}, `{"type":"hello","id":9,"k":[1, 2]}`},
		{"no args", "ping2", 4, nil, `{"type":"ping2","id":4}`},
		{"several args", "e", 0, []string{`1`, `"two"`}, `{"type":"e","args":[1,"two"]}`},
		{"one non-object", "e", 0, []string{`[1]`}, `{"type":"e","args":[[1]]}`},
		{"escaped name", `a"b`, 0, nil, `{"type":"a\"b"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args [][]byte
			for _, a := range tc.args {
				args = append(args, []byte(a))
			}
			got, err := AppendLegacyFrame(nil, tc.event, tc.id, args)
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
			f, err := legacy.Decode(got)
			if err != nil || f.Type != tc.event || f.ID != tc.id {
				t.Fatalf("decode %s: %+v, %v", got, f, err)
			}
		})
	}
	for _, bad := range [][][]byte{{[]byte(`{`)}, {[]byte(`1`), []byte(``)}} {
		if _, err := AppendLegacyFrame(nil, "e", 0, bad); !errors.Is(err, ErrInvalidArgs) {
			t.Errorf("args %q: %v, want ErrInvalidArgs", bad, err)
		}
	}
	if _, err := AppendLegacyFrame(nil, "", 0, nil); !errors.Is(err, ErrInvalidArgs) {
		t.Errorf("empty event: %v", err)
	}
}

// TestLegacyRenamed: renamed request types are written under their new
// name, and renamed message frames are read.
func TestLegacyRenamed(t *testing.T) {
	n := newLegacyNames(Mapping{Subscribe: "sub", Unsubscribe: "unsubscribe", Publish: "pub", Message: "msg"})
	for _, tc := range []struct {
		f    legacy.Frame
		want string
	}{
		{legacy.Frame{Type: legacy.TypeSubscribe, ID: 1, Channel: "c", Since: 5, HasSince: true}, `{"type":"sub","id":1,"channel":"c","since":5}`},
		{legacy.Frame{Type: legacy.TypeUnsubscribe, ID: 2, Channel: "c"}, `{"type":"unsubscribe","id":2,"channel":"c"}`},
		{legacy.Frame{Type: legacy.TypePublish, ID: 3, Channel: "c", Data: []byte(`{"a" : 1}`)}, `{"type":"pub","id":3,"channel":"c","data":{"a" : 1}}`},
	} {
		if got := n.encode(tc.f); string(got) != tc.want {
			t.Errorf("encode %s: got %s, want %s", tc.f.Type, got, tc.want)
		}
	}
	f, err := legacy.Decode([]byte(`{"type":"msg","channel":"c","seq":4,"data":[1, 2]}`))
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := legacyMessage(f)
	if !ok || ev.Kind != KindMessage || ev.Channel != "c" || ev.Seq != 4 || string(ev.Data) != `[1, 2]` {
		t.Fatalf("renamed message: %+v, %v", ev, ok)
	}
}

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		in   string
		pos  Position
		code string // "" for success
		bad  bool   // ErrBadReply
	}{
		{`{"ok":true}`, Position{}, "", false},
		{`{"ok":true,"seq":12}`, Position{Seq: 12, HasSeq: true}, "", false},
		{`{"error":"history_gone: messages after seq 3 are gone"}`, Position{}, "history_gone", false},
		{`{"error":"Something Broke: badly"}`, Position{}, "", false},
		{`{"error":{"code":"x_y","message":"m"}}`, Position{}, "x_y", false},
		{`{"ok":false}`, Position{}, "", true},
		{`[1]`, Position{}, "", true},
	} {
		pos, err := parseAck("subscribe", []byte(tc.in))
		var re *RemoteError
		switch {
		case tc.bad:
			if !errors.Is(err, ErrBadReply) {
				t.Errorf("%s: %v, want ErrBadReply", tc.in, err)
			}
		case tc.code != "" || errors.As(err, &re):
			if !errors.As(err, &re) || re.Code != tc.code {
				t.Errorf("%s: %v, want code %q", tc.in, err, tc.code)
			}
		case err != nil || pos != tc.pos:
			t.Errorf("%s: %+v, %v; want %+v", tc.in, pos, err, tc.pos)
		}
	}
	if _, err := parseAck("x", []byte(`{"error":"Something Broke: badly"}`)); err == nil || err.(*RemoteError).Message != "Something Broke: badly" {
		t.Errorf("uncoded error: %v", err)
	}
}
