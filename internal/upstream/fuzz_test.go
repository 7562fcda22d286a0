package upstream

import (
	"encoding/json"
	"testing"

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
	f.Fuzz(func(t *testing.T, event string, id uint64, arg []byte) {
		out, err := AppendLegacyFrame(nil, event, id, [][]byte{arg})
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("not JSON: %q", out)
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
