package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/baton-rt/baton/internal/wire/legacy"
)

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"channel":"c","seq":3,"data":{"a":1}}`,
		`{"channel":"c","data":null}`,
		`{"channel":"","seq":1}`,
		`{"seq":-1}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := parseMessage(b)
		if err != nil {
			return
		}
		if ev.Kind != KindMessage || ev.Channel == "" {
			t.Fatalf("accepted %q as %+v", b, ev)
		}
		if ev.Data != nil && !json.Valid(ev.Data) {
			t.Fatalf("data %q is not JSON", ev.Data)
		}
	})
}

func FuzzAppendLegacyFrame(f *testing.F) {
	f.Add("hello", uint64(0), []byte(`{"who":"me"}`))
	f.Add("e", uint64(7), []byte(`{"type":"x","id":1,"v":[1,{"a":null}]}`))
	f.Add("e", uint64(1), []byte(`"str"`))
	f.Add("ü\n", uint64(2), []byte(` { "a" : 1 } `))
	f.Add("e", uint64(3), []byte(` [ 1 , "x" ] `))
	f.Add("e", uint64(0), []byte(`{"type":"t","\u0069d":2,"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, event string, id uint64, arg []byte) {
		out, err := AppendLegacyFrame(nil, event, id, [][]byte{arg})
		valid := event != "" && utf8.ValidString(event) && json.Valid(arg)
		if err != nil {
			if valid || !errors.Is(err, ErrInvalidArgs) {
				t.Fatalf("AppendLegacyFrame(%q, %d, %q): %v", event, id, arg, err)
			}
			return
		}
		if !valid {
			t.Fatalf("AppendLegacyFrame(%q, %d, %q) accepted: %q", event, id, arg, out)
		}
		if !json.Valid(out) {
			t.Fatalf("not JSON: %q", out)
		}
		// As encoding/json reads it: type, id when set, and the argument's
		// members (an object but for its type and id) or the argument
		// alone in args, each value byte for byte.
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("frame %q: %v", out, err)
		}
		want := map[string]json.RawMessage{}
		if bytes.HasPrefix(bytes.TrimLeft(arg, " \t\r\n"), []byte("{")) {
			if err := json.Unmarshal(arg, &want); err != nil {
				t.Fatalf("argument %q: %v", arg, err)
			}
			delete(want, "id")
		} else {
			want["args"] = json.RawMessage("[" + string(arg) + "]")
		}
		want["type"], _ = json.Marshal(event)
		if id > 0 {
			want["id"] = json.RawMessage(strconv.FormatUint(id, 10))
		}
		if len(got) != len(want) {
			t.Fatalf("frame %q has members %q, want %q", out, got, want)
		}
		for k, v := range want {
			if k == "type" {
				var s string
				if json.Unmarshal(got[k], &s) != nil || s != event {
					t.Fatalf("frame %q: type %s, want %q", out, got[k], event)
				}
			} else if !bytes.Equal(got[k], v) {
				t.Fatalf("frame %q: %q is %s, want %s", out, k, got[k], v)
			}
		}
		fr, err := legacy.Decode(out)
		if err != nil {
			return // a name or member the legacy codec refuses (for example a bad "seq")
		}
		if fr.Type != event || fr.ID != id {
			t.Fatalf("decoded type %q id %d, want %q %d (frame %q)", fr.Type, fr.ID, event, id, out)
		}
	})
}
